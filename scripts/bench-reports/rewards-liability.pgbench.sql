SET search_path TO rewards;
SELECT coalesce(sum(spendable), 0)::bigint AS spendable, coalesce(sum(debt), 0)::bigint AS debt, count(*) FILTER (WHERE spendable > 0) AS holders FROM token_balances;
SELECT item, cost, value, value_currency AS currency FROM catalog_items WHERE active AND value IS NOT NULL ORDER BY item;
SELECT currency, count(*) AS vouchers, sum(discount) AS value FROM vouchers WHERE status IN ('issued', 'reserved') AND expires_at > '2026-12-15T00:00:00Z' GROUP BY 1 ORDER BY 1;
