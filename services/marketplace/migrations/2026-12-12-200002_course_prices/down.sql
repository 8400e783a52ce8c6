DROP TABLE course_prices;
