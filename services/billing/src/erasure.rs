//! Erasure, billing's part (issue 18, point 3; the protocol is `events::erasure`). The Stripe
//! customer is deleted through the Stripe API (Stripe drops its name, e-mail and payment methods;
//! charges and refunds stay, naming the customer id only), and the row linking the user to it
//! goes. Payments, refunds, receipts, billing history and payment outcomes are financial records
//! the law makes us keep: they stay, under the user's opaque id, with nothing else personal in
//! them (no names or addresses are ever stored here; the client secret is dropped).

use crate::store::schema::{customers, payments};
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
                .set(payments::client_secret.eq(None::<String>))
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}
