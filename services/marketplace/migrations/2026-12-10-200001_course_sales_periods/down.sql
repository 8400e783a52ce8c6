DROP TABLE course_sales_years_done;
DROP TABLE course_sales_years;
DROP TABLE course_sales_months_done;
DROP TABLE course_sales_months;
