//! `sicha customer …`: name the callers the pages show by phone number, and list them.
//!
//! Customers are created by their first call; a phone that called several businesses is one
//! customer per business, told apart with `--business`. Names are printed on lines of their own so
//! the terminal lays Hebrew out right to left undisturbed.

use std::io::Write;

use anyhow::bail;
use clap::builder::NonEmptyStringValueParser;

use super::business::e164;
use super::calls::format_utc;
use crate::store::{Customer, Store};

#[derive(Debug, clap::Subcommand)]
pub enum CustomerCommand {
    /// Set the name the pages show for a caller, or clear it.
    SetName(SetNameArgs),
    /// List customers, most recently in contact first.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub struct SetNameArgs {
    /// The caller's phone number, E.164 (e.g. +972501234567).
    #[arg(long, value_parser = e164)]
    pub phone: String,
    /// The name, e.g. "דנה כהן".
    #[arg(long, value_parser = NonEmptyStringValueParser::new(), required_unless_present = "clear", conflicts_with = "clear")]
    pub name: Option<String>,
    /// Remove the name: the pages show the phone number again.
    #[arg(long)]
    pub clear: bool,
    /// The business's Twilio number, needed when the phone has called more than one business.
    #[arg(long, value_parser = e164)]
    pub business: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only the customers of the business on this Twilio number.
    #[arg(long, value_parser = e164)]
    pub business: Option<String>,
    /// Only names or phone numbers containing this text.
    #[arg(long)]
    pub search: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub limit: i64,
}

pub async fn run(cmd: CustomerCommand, store: &Store, out: &mut impl Write) -> anyhow::Result<()> {
    match cmd {
        CustomerCommand::SetName(args) => set_name(args, store, out).await,
        CustomerCommand::List(args) => list(args, store, out).await,
    }
}

async fn set_name(args: SetNameArgs, store: &Store, out: &mut impl Write) -> anyhow::Result<()> {
    let business_id = match &args.business {
        Some(number) => Some(business_id(store, number).await?),
        None => None,
    };
    let mut found = store.customers_by_phone(&args.phone).await?;
    if let Some(id) = &business_id {
        found.retain(|customer| &customer.business_id == id);
    }
    let customer = match found.as_slice() {
        [] => bail!(
            "no customer with phone {}{}: a customer is added by their first call",
            args.phone,
            args.business
                .as_deref()
                .map(|b| format!(" for business {b}"))
                .unwrap_or_default()
        ),
        [one] => one,
        several => {
            let numbers = business_numbers(store, several).await?;
            bail!(
                "{} has called {} businesses ({}): say which with --business",
                args.phone,
                several.len(),
                numbers.join(", ")
            )
        }
    };
    let name = if args.clear {
        None
    } else {
        args.name.as_deref()
    };
    let customer = store.set_customer_name(&customer.id, name).await?;
    match &customer.name {
        Some(name) => {
            writeln!(out, "named customer {}:", customer.phone)?;
            writeln!(out, "{name}")?;
        }
        None => writeln!(out, "cleared the name of customer {}", customer.phone)?,
    }
    Ok(())
}

async fn list(args: ListArgs, store: &Store, out: &mut impl Write) -> anyhow::Result<()> {
    let business_id = match &args.business {
        Some(number) => Some(business_id(store, number).await?),
        None => None,
    };
    let search = args
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let customers = store
        .list_customers(business_id.as_deref(), search, args.limit)
        .await?;
    if customers.is_empty() {
        writeln!(out, "no customers")?;
        return Ok(());
    }
    let numbers = business_numbers(store, &customers).await?;
    for (customer, business) in customers.iter().zip(numbers) {
        writeln!(
            out,
            "{}  business {}  last contact {}",
            customer.phone,
            business,
            format_utc(customer.last_contact_ms)
        )?;
        writeln!(out, "{}", customer.name.as_deref().unwrap_or("(no name)"))?;
        writeln!(out)?;
    }
    Ok(())
}

async fn business_id(store: &Store, number: &str) -> anyhow::Result<String> {
    match store.business_by_number(number).await? {
        Some(business) => Ok(business.id),
        None => bail!("no business on {number}"),
    }
}

/// Each customer's business as its Twilio number.
async fn business_numbers(store: &Store, customers: &[Customer]) -> anyhow::Result<Vec<String>> {
    let businesses = store.list_businesses().await?;
    Ok(customers
        .iter()
        .map(|customer| {
            businesses
                .iter()
                .find(|b| b.id == customer.business_id)
                .map(|b| b.number.clone())
                .unwrap_or_else(|| customer.business_id.clone())
        })
        .collect())
}
