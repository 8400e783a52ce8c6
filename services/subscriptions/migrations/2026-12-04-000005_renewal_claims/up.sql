-- While one replica has a renewal charge out at billing (no transaction held), the subscription
-- is still due; this lease keeps the other replicas' schedulers from charging it again meanwhile.
-- Database time, never the service's clock: a lease is real time whatever the business clock says.
ALTER TABLE subscriptions ADD COLUMN renewal_claimed_until TIMESTAMPTZ;
