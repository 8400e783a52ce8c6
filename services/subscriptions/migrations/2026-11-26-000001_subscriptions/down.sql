DROP TABLE grants;
DROP TABLE charges;
DROP TABLE subscriptions;
DROP TABLE tier_features;
DROP TABLE tiers;
