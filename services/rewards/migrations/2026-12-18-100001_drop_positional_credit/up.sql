-- The contract step of 2026-12-17-100001_credit_from_envelope (docs/operations.md: expand, deploy,
-- then contract in a later release). The release that shipped that migration calls only the
-- envelope signatures, so from this release on no running version calls the positional ones
-- (sixteen and seventeen arguments): dropped, so the ledger has one way in.
DROP FUNCTION IF EXISTS credit_tokens(
    UUID, TEXT, BIGINT, TEXT, TEXT, TEXT, TEXT, TEXT, TIMESTAMPTZ, TEXT, TEXT, TEXT, UUID, UUID, TEXT, TEXT);
DROP FUNCTION IF EXISTS earn_once(
    UUID, TEXT, BIGINT, BIGINT, DATE, TEXT, TEXT, TEXT, TEXT, TIMESTAMPTZ, TEXT, TEXT, TEXT, UUID, UUID, TEXT, TEXT);
-- IF EXISTS: the down migration restores nothing, so a redo finds them gone.
