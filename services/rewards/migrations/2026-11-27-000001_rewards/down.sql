DROP TABLE IF EXISTS friendships, friend_requests, profiles, award_audit, vouchers, redemptions, catalog_items,
    score_histogram, weekly_scores, purchase_rewards, earning_counters, earning_rules, token_transactions,
    token_balances;
DROP FUNCTION IF EXISTS token_transactions_append_only();
