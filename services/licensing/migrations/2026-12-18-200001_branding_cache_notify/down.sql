DROP TRIGGER organizations_domain_cache ON organizations;
DROP TRIGGER branding_cache ON branding;
