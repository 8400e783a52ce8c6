-- Expiry of abandoned purchases (issue 15): when the expiry job last asked billing to cancel the
-- purchase's payment. Stamped in the claiming statement, so replicas share the work, and a
-- purchase whose cancel could not be settled (billing unreachable, Stripe still deciding) is
-- asked about again only after a pause.
ALTER TABLE purchases ADD COLUMN expiry_attempted_at TIMESTAMPTZ;
