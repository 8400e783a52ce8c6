DROP TABLE sales_ledger;
