-- Prices in several currencies (issue 20, point 7). `courses.price`/`courses.currency` stay the
-- course's primary price (the catalogue's, and what a purchase naming no currency pays); a course
-- may also be sold in the other supported currencies at the prices here, one row per currency,
-- never the primary's (the application keeps them apart). A purchase records the price and
-- currency it was made in; earnings, payouts and reports are per currency already.
CREATE TABLE course_prices (
    course_id UUID          NOT NULL REFERENCES courses (id),
    currency  CHAR(3)       NOT NULL CHECK (currency IN ('USD', 'EUR', 'GBP', 'BRL')),
    price     NUMERIC(19,4) NOT NULL CHECK (price > 0 AND price <> 'NaN'),
    PRIMARY KEY (course_id, currency)
);
