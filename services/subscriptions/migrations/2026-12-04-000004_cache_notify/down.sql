DROP TRIGGER tier_features_features ON tier_features;
DROP TRIGGER tier_features_table ON tier_features;
DROP TRIGGER tiers_features ON tiers;
DROP TRIGGER tiers_table ON tiers;
DROP TRIGGER licenses_features ON licenses;
DROP FUNCTION license_members_notify();
DROP TRIGGER grants_features ON grants;
DROP TRIGGER subscriptions_features ON subscriptions;
