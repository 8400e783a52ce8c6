-- The previous release sends the two statements itself and never calls the function.
DROP FUNCTION IF EXISTS apply_seat_activation(uuid, uuid, text, text, timestamptz, timestamptz, bigint);
