DROP TABLE sales_days_done;
DROP TABLE sales_days;
