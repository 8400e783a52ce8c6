DROP TABLE charge_discounts;
DROP TABLE subscription_discounts;
DROP TABLE redemptions;
DROP TABLE promotion_codes;
DROP TABLE coupon_amounts;
DROP TABLE coupons;
