DROP TABLE voucher_issue_days_done;
DROP TABLE voucher_issue_days;
