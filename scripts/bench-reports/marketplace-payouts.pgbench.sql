SET search_path TO marketplace;
SELECT status AS state, currency, sum(amount) AS amount FROM earnings WHERE status IN ('pending', 'available') GROUP BY 1, 2 UNION ALL SELECT CASE status WHEN 'requested' THEN 'in_payout' ELSE 'paid' END, currency, sum(amount) FROM payouts GROUP BY 1, 2 ORDER BY 2, 1;
