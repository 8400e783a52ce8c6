DROP FUNCTION cache_notify();
