//! Erasure, billing's part (issue 18, point 3; the protocol is `events::erasure`). The Stripe
//! customer is deleted through the Stripe API (Stripe drops its name, e-mail and payment methods;
//! charges and refunds stay, naming the customer id only), and the row linking the user to it
//! goes. Payments, refunds, receipts, billing history and payment outcomes are financial records
//! the law makes us keep: they stay, under the user's opaque id, with nothing else personal in
//! them (the client secret is dropped). The billing details (name, address, VAT id) are deleted,
//! and so is their copy on payments (`billed_to`); issued invoices and credit notes keep theirs:
//! tax law requires the customer's name and address on the invoice for its retention period
//! (GDPR art. 17(3)(b)), so they are kept as issued, under the user's opaque id.

use crate::store::schema::{billing_details, customers, payments};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use events::erasure::Eraser;
use events::HandlerError;
use futures_util::future::BoxFuture;
use uuid::Uuid;

pub struct BillingEraser {
    pub stripe: stripe::Client,
}

impl Eraser for BillingEraser {
    fn erase<'a>(&'a self, conn: &'a mut AsyncPgConnection, user: Uuid) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let customer: Option<String> = customers::table
                .find(user)
                .select(customers::stripe_customer_id)
                .for_update()
                .first(conn)
                .await
                .optional()?;
            if let Some(customer) = customer {
                // Deleting twice is Stripe's 404: a redelivery after a failed commit finds it gone.
                match self.stripe.delete_customer(&customer).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(HandlerError::Retry(format!("deleting the Stripe customer: {e}"))),
                }
                diesel::delete(customers::table.find(user)).execute(conn).await?;
            }
            diesel::update(payments::table.filter(payments::user_id.eq(user)))
                .set((payments::client_secret.eq(None::<String>), payments::billed_to.eq(None::<serde_json::Value>)))
                .execute(conn)
                .await?;
            diesel::delete(billing_details::table.find(user)).execute(conn).await?;
            Ok(())
        })
    }
}
