ALTER TABLE charges DROP CONSTRAINT charges_amount_check;
ALTER TABLE charges ADD CONSTRAINT charges_amount_check CHECK (amount > 0 AND amount <> 'NaN');
DROP TABLE charge_discounts;
DROP TABLE subscription_discounts;
DROP TABLE redemptions;
DROP TABLE promotion_codes;
DROP TABLE coupon_amounts;
DROP TABLE coupons;
