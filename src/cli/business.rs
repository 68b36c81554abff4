//! `sicha business …`: add, list, show and update the businesses answering on Twilio numbers.
//!
//! Hebrew text (names, greetings, prompts) is printed on lines of its own, with its label on the
//! line before, so the terminal lays each Hebrew line out right to left undisturbed.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::builder::NonEmptyStringValueParser;

use super::calls::format_utc;
use crate::business_tools::{BusinessTools, ToolsFileFormat};
use crate::clock::now_ms;
use crate::store::businesses::{DtmfMap, DtmfMapError, OpeningHours, SmsPolicy};
use crate::store::{Business, BusinessChanges, NewBusiness, Store, StoreError, validate_e164};

#[derive(Debug, clap::Subcommand)]
pub enum BusinessCommand {
    /// Add a business answering on a Twilio number.
    Add(AddArgs),
    /// List every business.
    List,
    /// Show one business in full, prompt and tools included.
    Show {
        /// The business's Twilio number, E.164 (e.g. +97231234567).
        #[arg(value_parser = e164)]
        number: String,
        /// Print the secret that signs requests to the business's tools (hidden otherwise).
        #[arg(long)]
        reveal_tools_secret: bool,
    },
    /// Change a business; only the options given change.
    Update(UpdateArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The Twilio number callers dial, E.164 (e.g. +97231234567).
    #[arg(long, value_parser = e164)]
    pub number: String,
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    /// Said as soon as the call connects.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub greeting: String,
    /// A text file with the agent's system prompt.
    #[arg(long, value_name = "FILE")]
    pub prompt_file: PathBuf,
    /// TTS voice (the server's default when absent).
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub voice: Option<String>,
    /// Where callers asking for a person are transferred, E.164.
    #[arg(long, value_parser = e164)]
    pub transfer_to: Option<String>,
    /// What the keys callers press do, e.g. "0=transfer,9=goodbye,*=callback" (keys 0-9, *, #;
    /// actions transfer, callback, goodbye). Without it: 0 transfers.
    #[arg(long, value_name = "MAP", value_parser = dtmf_map)]
    pub dtmf: Option<DtmfMap>,
    #[command(flatten)]
    pub sms: SmsArgs,
    /// Start answering on an early transcript, the audio held until the caller has surely finished
    /// (answers come sooner; some model and speech requests are thrown away). On by default.
    #[arg(long, value_name = "on|off", value_parser = on_off)]
    pub preemptive: Option<bool>,
    /// A file declaring the business's tools (TOML, or JSON when it ends in .json or starts with {).
    #[arg(long, value_name = "FILE")]
    pub tools_file: Option<PathBuf>,
    /// When promised call-backs are placed, on Israel's clock, e.g. "sun-thu 09:00-18:00, fri
    /// 09:00-13:00" (days sun..sat, a run like sun-thu; "always" for any time). Without it:
    /// Sunday to Thursday, 09:00 to 18:00.
    #[arg(long, value_name = "HOURS", value_parser = opening_hours)]
    pub hours: Option<Box<OpeningHours>>,
}

/// Whether the agent may text callers. Off unless asked for: the caller ID can be spoofed and the
/// model writes the text from the caller's words.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SmsArgs {
    /// Let the agent text the caller during a call (the send_sms tool).
    #[arg(long)]
    pub sms_tool: bool,
    /// Texts per call the agent may send (1 to 5; default 1).
    #[arg(long, value_name = "N", requires = "sms_tool")]
    pub sms_max: Option<u32>,
    /// A link the agent's texts may hold (a prefix such as https://example.com/book); repeat for
    /// more. Without any, texts hold no links.
    #[arg(long = "sms-link", value_name = "URL", requires = "sms_tool")]
    pub sms_links: Vec<String>,
}

impl SmsArgs {
    /// The policy asked for, checked; `None` when texting was not asked for.
    fn policy(&self) -> anyhow::Result<Option<SmsPolicy>> {
        if !self.sms_tool {
            return Ok(None);
        }
        let policy = SmsPolicy::new(self.sms_max.unwrap_or(1), self.sms_links.clone())
            .with_context(|| "--sms-tool")?;
        Ok(Some(policy))
    }
}

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// The business's Twilio number, E.164.
    #[arg(value_parser = e164)]
    pub number: String,
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: Option<String>,
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub greeting: Option<String>,
    /// A text file with the new system prompt.
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    #[arg(long, value_parser = NonEmptyStringValueParser::new(), conflicts_with = "no_voice")]
    pub voice: Option<String>,
    /// Use the server's default voice.
    #[arg(long)]
    pub no_voice: bool,
    #[arg(long, value_parser = e164, conflicts_with = "no_transfer")]
    pub transfer_to: Option<String>,
    /// Never transfer callers.
    #[arg(long)]
    pub no_transfer: bool,
    /// What the keys callers press do, e.g. "0=transfer,9=goodbye,*=callback".
    #[arg(long, value_name = "MAP", value_parser = dtmf_map, conflicts_with = "no_dtmf")]
    pub dtmf: Option<DtmfMap>,
    /// Back to the default key map (0 transfers).
    #[arg(long)]
    pub no_dtmf: bool,
    /// Replace what the agent may text callers (see `business add --help`).
    #[command(flatten)]
    pub sms: SmsArgs,
    /// Stop the agent texting callers.
    #[arg(long, conflicts_with = "sms_tool")]
    pub no_sms_tool: bool,
    /// Start answering on an early transcript (see `business add --help`).
    #[arg(long, value_name = "on|off", value_parser = on_off)]
    pub preemptive: Option<bool>,
    /// A file declaring the business's tools, replacing those it has (its tools secret is kept).
    #[arg(long, value_name = "FILE", conflicts_with = "clear_tools")]
    pub tools_file: Option<PathBuf>,
    /// Remove the business's tools.
    #[arg(long)]
    pub clear_tools: bool,
    /// Make a new secret for signing tool requests; the old one stops verifying at once.
    #[arg(long)]
    pub rotate_tools_secret: bool,
    /// When promised call-backs are placed (see `business add --help`).
    #[arg(long, value_name = "HOURS", value_parser = opening_hours, conflicts_with = "default_hours")]
    pub hours: Option<Box<OpeningHours>>,
    /// Back to the default opening hours (Sunday to Thursday, 09:00 to 18:00).
    #[arg(long)]
    pub default_hours: bool,
}

/// Clap's check of a phone-number argument, with the reason in the message.
pub fn e164(text: &str) -> Result<String, String> {
    validate_e164(text)
        .map(|()| text.to_string())
        .map_err(|error| error.to_string())
}

/// Clap's reading of an on/off switch.
fn on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("{other:?} is neither on nor off")),
    }
}

/// Clap's check of a key map argument, with the reason in the message.
fn dtmf_map(text: &str) -> Result<DtmfMap, String> {
    text.parse()
        .map_err(|error: DtmfMapError| error.to_string())
}

/// Clap's check of opening hours, with the reason in the message. Boxed: a week of spans would
/// make every command's arguments that much bigger.
fn opening_hours(text: &str) -> Result<Box<OpeningHours>, String> {
    text.parse()
        .map(Box::new)
        .map_err(|error: crate::store::businesses::OpeningHoursError| error.to_string())
}

/// How a key map is shown: its text, or a word when no key does anything.
fn describe_dtmf(map: &DtmfMap) -> String {
    if map.is_empty() {
        "(no keys)".to_string()
    } else {
        map.to_string()
    }
}

pub async fn run(cmd: BusinessCommand, store: &Store, out: &mut impl Write) -> anyhow::Result<()> {
    match cmd {
        BusinessCommand::Add(args) => add(args, store, out).await,
        BusinessCommand::List => list(store, out).await,
        BusinessCommand::Show {
            number,
            reveal_tools_secret,
        } => {
            let business = store.business_by_number(&number).await?;
            let Some(business) = business else {
                bail!("no business on {number}")
            };
            show(&business, reveal_tools_secret, out)
        }
        BusinessCommand::Update(args) => update(args, store, out).await,
    }
}

/// Adds a business the way `sicha business add` does, its prompt already read from the file; the demo's
/// business is made through it too, so it is whatever a user's command would make. A number already
/// taken is [`StoreError::Duplicate`].
pub async fn add_business(store: &Store, new: &NewBusiness) -> Result<Business, StoreError> {
    store.create_business(new, now_ms()).await
}

async fn add(args: AddArgs, store: &Store, out: &mut impl Write) -> anyhow::Result<()> {
    let new = NewBusiness {
        number: args.number,
        name: args.name,
        greeting: args.greeting,
        system_prompt: read_prompt(&args.prompt_file)?,
        voice: args.voice,
        transfer_to: args.transfer_to,
        dtmf_map: args.dtmf,
        sms_policy: args.sms.policy()?,
        preemptive_replies: args.preemptive,
        tools: args
            .tools_file
            .as_deref()
            .map(read_tools_file)
            .transpose()?,
        opening_hours: args.hours.map(|hours| *hours),
    };
    let business = add_business(store, &new).await?;
    writeln!(
        out,
        "added business {} (id {})",
        business.number, business.id
    )?;
    Ok(())
}

async fn update(args: UpdateArgs, store: &Store, out: &mut impl Write) -> anyhow::Result<()> {
    let changes = BusinessChanges {
        name: args.name,
        greeting: args.greeting,
        system_prompt: args.prompt_file.as_deref().map(read_prompt).transpose()?,
        voice: if args.no_voice {
            Some(None)
        } else {
            args.voice.map(Some)
        },
        transfer_to: if args.no_transfer {
            Some(None)
        } else {
            args.transfer_to.map(Some)
        },
        dtmf_map: if args.no_dtmf {
            Some(None)
        } else {
            args.dtmf.map(Some)
        },
        sms_policy: if args.no_sms_tool {
            Some(None)
        } else {
            args.sms.policy()?.map(Some)
        },
        preemptive_replies: args.preemptive,
        tools: if args.clear_tools {
            Some(None)
        } else {
            args.tools_file
                .as_deref()
                .map(read_tools_file)
                .transpose()?
                .map(Some)
        },
        rotate_tools_secret: args.rotate_tools_secret,
        opening_hours: if args.default_hours {
            Some(None)
        } else {
            args.hours.map(|hours| Some(*hours))
        },
    };
    if changes == BusinessChanges::default() {
        bail!(
            "nothing to change: give at least one of --name, --greeting, --prompt-file, --voice, --no-voice, --transfer-to, --no-transfer, --dtmf, --no-dtmf, --sms-tool, --no-sms-tool, --preemptive, --tools-file, --clear-tools, --rotate-tools-secret, --hours, --default-hours"
        );
    }
    let business = store
        .update_business(&args.number, &changes, now_ms())
        .await?;
    writeln!(out, "updated business {}", business.number)?;
    show(&business, false, out)
}

async fn list(store: &Store, out: &mut impl Write) -> anyhow::Result<()> {
    let businesses = store.list_businesses().await?;
    if businesses.is_empty() {
        writeln!(out, "no businesses yet; add one with `sicha business add`")?;
        return Ok(());
    }
    for business in businesses {
        writeln!(
            out,
            "{}  voice {}  transfer {}  keys {}  tools {}",
            business.number,
            business.voice.as_deref().unwrap_or("(default)"),
            business.transfer_to.as_deref().unwrap_or("(none)"),
            describe_dtmf(&business.dtmf_map),
            business
                .tools
                .as_ref()
                .map_or(0, |tools| tools.tools().len()),
        )?;
        writeln!(out, "{}", business.name)?;
        writeln!(out)?;
    }
    Ok(())
}

fn show(
    business: &Business,
    reveal_tools_secret: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    writeln!(out, "business {}", business.number)?;
    writeln!(out, "id:          {}", business.id)?;
    writeln!(
        out,
        "voice:       {}",
        business.voice.as_deref().unwrap_or("(server default)")
    )?;
    writeln!(
        out,
        "transfer to: {}",
        business.transfer_to.as_deref().unwrap_or("(none)")
    )?;
    writeln!(out, "keys:        {}", describe_dtmf(&business.dtmf_map))?;
    writeln!(
        out,
        "texts:       {}",
        describe_sms(business.sms_policy.as_ref())
    )?;
    writeln!(out, "hours:       {} (Israel)", business.opening_hours)?;
    writeln!(out, "created:     {}", format_utc(business.created_at_ms))?;
    writeln!(out, "updated:     {}", format_utc(business.updated_at_ms))?;
    for (label, text) in [
        ("name", &business.name),
        ("greeting", &business.greeting),
        ("system prompt", &business.system_prompt),
    ] {
        writeln!(out)?;
        writeln!(out, "{label}:")?;
        writeln!(out, "{text}")?;
    }
    show_tools(business, reveal_tools_secret, out)
}

/// The business's tools, one block each, and its tools secret (hidden unless asked for). Text the
/// business wrote (descriptions, waiting phrases) is on lines of its own: it may be Hebrew.
fn show_tools(
    business: &Business,
    reveal_secret: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    writeln!(out)?;
    match &business.tools {
        None => writeln!(out, "tools:       none")?,
        Some(tools) => writeln!(
            out,
            "tools:       {} (at most {} tool calls per call)",
            tools.tools().len(),
            tools.max_calls_per_call()
        )?,
    }
    if let Some(secret) = &business.tools_secret {
        if reveal_secret {
            writeln!(out, "tools secret: {}", secret.expose())?;
        } else {
            writeln!(
                out,
                "tools secret: (hidden; --reveal-tools-secret prints it)"
            )?;
        }
    }
    for tool in business.tools.iter().flat_map(BusinessTools::tools) {
        writeln!(out)?;
        writeln!(out, "tool {}", tool.name())?;
        writeln!(out, "  url:          {}", tool.url())?;
        writeln!(out, "  timeout:      {} ms", tool.timeout().as_millis())?;
        let confirm = if tool.confirm() { "yes" } else { "no" };
        writeln!(out, "  confirm:      {confirm}")?;
        if let Some(limit) = tool.max_per_call() {
            writeln!(out, "  max per call: {limit}")?;
        }
        writeln!(out, "  description:")?;
        writeln!(out, "{}", tool.description())?;
        if let Some(phrase) = tool.waiting_phrase() {
            writeln!(out, "  waiting phrase:")?;
            writeln!(out, "{phrase}")?;
        }
    }
    Ok(())
}

/// How the texting permission is shown.
fn describe_sms(policy: Option<&SmsPolicy>) -> String {
    let Some(policy) = policy else {
        return "off (the agent does not text callers)".to_string();
    };
    let links = if policy.allowed_links.is_empty() {
        "no links".to_string()
    } else {
        format!("links under {}", policy.allowed_links.join(" "))
    };
    format!("up to {} per call, {links}", policy.max_per_call)
}

/// Reads and checks a tools file; a refused file's error names the line and column at fault.
fn read_tools_file(path: &Path) -> anyhow::Result<BusinessTools> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the tools file {}", path.display()))?;
    let format = ToolsFileFormat::detect(Some(path), &text);
    BusinessTools::parse(&text, format)
        .map_err(|error| anyhow::anyhow!("the tools file {} is refused at {error}", path.display()))
}

fn read_prompt(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the prompt file {}", path.display()))?;
    let prompt = text.trim();
    if prompt.is_empty() {
        bail!("the prompt file {} is empty", path.display());
    }
    Ok(prompt.to_string())
}
