//! A tools file as written (TOML or JSON), read into [`BusinessTools`], and the canonical JSON the
//! database keeps. A refused file's error names the line and column of the problem.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checks::{self, Problem};
use super::declaration::{BusinessTools, ToolDeclaration};
use super::locate;

/// How a tools file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolsFileFormat {
    Toml,
    Json,
}

impl ToolsFileFormat {
    /// JSON when the file's name ends in `.json` or its text starts with `{`; TOML otherwise.
    pub fn detect(path: Option<&Path>, text: &str) -> Self {
        let json_name = path
            .and_then(Path::extension)
            .is_some_and(|extension| extension.eq_ignore_ascii_case("json"));
        if json_name || text.trim_start().starts_with('{') {
            Self::Json
        } else {
            Self::Toml
        }
    }
}

/// Why a tools file is refused, and where (1-based line and column, the column in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {problem}")]
pub struct ToolsFileError {
    pub line: usize,
    pub column: usize,
    pub problem: String,
}

impl ToolsFileError {
    fn at_offset(text: &str, offset: usize, problem: impl Into<String>) -> Self {
        let (line, column) = locate::line_column(text, offset);
        Self {
            line,
            column,
            problem: problem.into(),
        }
    }
}

/// The file's top level, as written. Unknown keys are refused, so a misspelt key is an error
/// rather than a setting silently ignored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_calls_per_call: Option<u32>,
    #[serde(default)]
    pub tools: Vec<FileTool>,
}

/// One `[[tools]]` entry as written. The order of the fields is the order of the canonical JSON.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTool {
    pub name: String,
    pub description: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub confirm: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_phrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_call: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

impl BusinessTools {
    /// Reads and checks a tools file. See the README's "Business tools" for the format.
    pub fn parse(text: &str, format: ToolsFileFormat) -> Result<Self, ToolsFileError> {
        let content: FileContent = match format {
            ToolsFileFormat::Toml => toml::from_str(text).map_err(|error| {
                let offset = error.span().map_or(0, |span| span.start);
                ToolsFileError::at_offset(text, offset, error.message().trim())
            })?,
            ToolsFileFormat::Json => serde_json::from_str(text).map_err(json_error)?,
        };
        checks::check(content).map_err(|Problem { at, message }| {
            ToolsFileError::at_offset(text, locate::offset(text, format, &at), message)
        })
    }

    /// The tools as kept in the database: JSON in the tools file's own format, every default
    /// written out and object keys sorted, so equal tools always give equal text.
    pub fn to_canonical_json(&self) -> String {
        let content = FileContent {
            max_calls_per_call: Some(self.max_calls_per_call),
            tools: self.tools.iter().map(ToolDeclaration::as_written).collect(),
        };
        serde_json::to_string(&content).expect("tools serialise to JSON")
    }

    /// Reads what [`BusinessTools::to_canonical_json`] wrote, checking it again.
    pub fn from_canonical_json(text: &str) -> Result<Self, ToolsFileError> {
        Self::parse(text, ToolsFileFormat::Json)
    }
}

impl ToolDeclaration {
    fn as_written(&self) -> FileTool {
        FileTool {
            name: self.name.clone(),
            description: self.description.clone(),
            url: self.url.to_string(),
            timeout_ms: Some(self.timeout.as_millis() as u64),
            confirm: self.confirm,
            waiting_phrase: self.waiting_phrase.clone(),
            max_per_call: self.max_per_call,
            parameters: Some(self.parameters.clone()),
        }
    }
}

/// serde_json's error with its position taken out of the message and put in the fields.
fn json_error(error: serde_json::Error) -> ToolsFileError {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    ToolsFileError {
        line: error.line().max(1),
        column: error.column().max(1),
        problem: text.strip_suffix(&position).unwrap_or(&text).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::business_tools::samples::{SALON_JSON, salon};

    fn toml_error(text: &str) -> ToolsFileError {
        BusinessTools::parse(text, ToolsFileFormat::Toml).expect_err("the file is refused")
    }

    fn json_error(text: &str) -> ToolsFileError {
        BusinessTools::parse(text, ToolsFileFormat::Json).expect_err("the file is refused")
    }

    /// One valid tool, with `extra` lines added to its table and `top` lines before it.
    fn one_tool(top: &str, extra: &str) -> String {
        format!(
            "{top}[[tools]]\nname = \"lookup\"\ndescription = \"Look up an order.\"\nurl = \"https://shop.example/lookup\"\n{extra}"
        )
    }

    fn assert_refused(error: &ToolsFileError, line: usize, words: &[&str]) {
        assert_eq!(error.line, line, "{error}");
        for word in words {
            assert!(error.problem.contains(word), "{word:?} not in: {error}");
        }
    }

    #[test]
    fn a_toml_file_gives_every_setting_with_its_defaults() {
        let tools = salon();
        assert_eq!(tools.max_calls_per_call(), 6);
        let names: Vec<&str> = tools.tools().iter().map(ToolDeclaration::name).collect();
        assert_eq!(names, ["check_availability", "book_appointment"]);

        let lookup = tools.get("check_availability").unwrap();
        assert_eq!(
            lookup.url().as_str(),
            "https://booking.example.com/sicha/availability"
        );
        assert_eq!(lookup.timeout(), Duration::from_millis(3000));
        assert_eq!(lookup.waiting_phrase(), Some("רגע, אני בודקת ביומן"));
        assert!(!lookup.confirm());
        assert_eq!(lookup.max_per_call(), None);
        assert_eq!(
            lookup.parameters(),
            &json!({"type": "object", "properties": {"date": {"type": "string"}}, "required": ["date"]})
        );

        let book = tools.get("book_appointment").unwrap();
        assert_eq!(
            book.timeout(),
            Duration::from_secs(5),
            "the default timeout"
        );
        assert!(book.confirm());
        assert_eq!(book.max_per_call(), Some(2));
        assert_eq!(book.waiting_phrase(), None);
        assert_eq!(
            book.parameters()["required"],
            json!(["date", "time", "name"])
        );
        assert!(tools.get("end_call").is_none());
    }

    #[test]
    fn the_same_tools_in_json_are_the_same_tools() {
        let from_json = BusinessTools::parse(SALON_JSON, ToolsFileFormat::Json).unwrap();
        assert_eq!(from_json, salon());
        assert_eq!(from_json.to_canonical_json(), salon().to_canonical_json());
    }

    #[test]
    fn the_format_is_json_by_name_or_by_its_opening_brace() {
        let detect = |name: &str, text: &str| ToolsFileFormat::detect(Some(Path::new(name)), text);
        assert_eq!(detect("tools.json", "x = 1"), ToolsFileFormat::Json);
        assert_eq!(detect("tools.JSON", ""), ToolsFileFormat::Json);
        assert_eq!(
            detect("tools.txt", "\n  {\"tools\": []}"),
            ToolsFileFormat::Json
        );
        assert_eq!(detect("tools.toml", "[[tools]]"), ToolsFileFormat::Toml);
        assert_eq!(
            ToolsFileFormat::detect(None, "max_calls_per_call = 2"),
            ToolsFileFormat::Toml
        );
    }

    #[test]
    fn the_canonical_json_reads_back_the_same_and_never_varies() {
        let tools = salon();
        let stored = tools.to_canonical_json();
        assert_eq!(BusinessTools::from_canonical_json(&stored).unwrap(), tools);
        assert_eq!(
            BusinessTools::from_canonical_json(&stored)
                .unwrap()
                .to_canonical_json(),
            stored
        );
        let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
        // Defaults are written out, so a later change of default does not change stored tools.
        assert_eq!(value["tools"][1]["timeout_ms"], json!(5000));
        assert_eq!(value["tools"][0]["confirm"], json!(false));
        assert!(value["tools"][1].get("waiting_phrase").is_none());
        // Schema keys are sorted whatever order the file gave them in.
        let book_schema = &value["tools"][1]["parameters"];
        let keys: Vec<&String> = book_schema.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["additionalProperties", "properties", "required", "type"]
        );
    }

    #[test]
    fn a_tool_without_parameters_takes_no_arguments() {
        let tools = BusinessTools::parse(&one_tool("", ""), ToolsFileFormat::Toml).unwrap();
        let lookup = tools.get("lookup").unwrap();
        assert_eq!(lookup.parameters()["type"], json!("object"));
        assert!(lookup.check_arguments(&json!({})).is_ok());
        assert!(lookup.check_arguments(&json!({"order": 1})).is_err());
        assert_eq!(tools.max_calls_per_call(), 8, "the default limit");
    }

    #[test]
    fn toml_syntax_and_shape_errors_name_their_line() {
        assert_refused(
            &toml_error(&one_tool("", "timeout_ms = \"5s\"\n")),
            5,
            &["expected u64"],
        );
        assert_refused(&toml_error(&one_tool("", "confirm = yes\n")), 5, &[]);
        let misspelt = toml_error(&one_tool("", "timeout = 3000\n"));
        assert_refused(&misspelt, 5, &["unknown field `timeout`", "timeout_ms"]);
        assert_eq!(misspelt.column, 1);
        assert_refused(
            &toml_error("[[tool]]\nname = \"x\"\n"),
            1,
            &["unknown field `tool`"],
        );
        assert_refused(
            &toml_error("\n[[tools]]\nname = \"lookup\"\ndescription = \"d\"\n"),
            2,
            &["missing field `url`"],
        );
        assert_refused(
            &toml_error(&one_tool("", "max_per_call = -1\n")),
            5,
            &["-1"],
        );
    }

    #[test]
    fn each_rule_broken_in_toml_names_the_line_of_the_value() {
        let with = |extra: &str| toml_error(&one_tool("", extra));
        assert_refused(
            &with("timeout_ms = 50\n"),
            5,
            &["timeout_ms", "100", "30000", "50"],
        );
        assert_refused(&with("timeout_ms = 30001\n"), 5, &["30001"]);
        assert_refused(
            &with("waiting_phrase = \"  \"\n"),
            5,
            &["waiting phrase is empty"],
        );
        assert_refused(&with("max_per_call = 0\n"), 5, &["at least 1"]);
        assert_refused(
            &with("parameters = { type = \"array\" }\n"),
            5,
            &["type = \"object\""],
        );
        let schema = with(
            "\n[tools.parameters]\ntype = \"object\"\n\n[tools.parameters.properties.when]\ntype = \"datetime\"\n",
        );
        assert_refused(
            &schema,
            10,
            &["not a valid JSON Schema at /properties/when/type"],
        );
        assert_eq!(schema.column, 8, "{schema}");
        assert_refused(
            &toml_error(&one_tool("max_calls_per_call = 0\n", "")),
            1,
            &["between 1 and 50"],
        );
        assert_refused(&toml_error("# nothing yet\n"), 1, &["declares no tools"]);

        let url =
            |url: &str| toml_error(&one_tool("", "").replace("https://shop.example/lookup", url));
        let plain_http = url("http://shop.example/lookup");
        assert_refused(&plain_http, 4, &["https", "localhost"]);
        assert_eq!(plain_http.column, 7, "{plain_http}");
        assert_refused(&url("ftp://shop.example/x"), 4, &["must be https"]);
        assert_refused(&url("shop.example/lookup"), 4, &["not a URL"]);
        assert_refused(&url("http://10.0.0.1/x"), 4, &["https"]);

        let name = |name: &str| toml_error(&one_tool("", "").replace("\"lookup\"", name));
        assert_refused(
            &name("\"book-appointment\""),
            2,
            &["\"book-appointment\"", "letter"],
        );
        assert_refused(&name("\"9lives\""), 2, &["letter"]);
        assert_refused(&name("\"\""), 2, &["letter"]);
        assert_refused(&name(&format!("\"a{}\"", "b".repeat(64))), 2, &["63"]);
        assert_refused(&name("\"send_sms\""), 2, &["sicha's own", "end_call"]);
        assert_refused(&name("\"request_callback\""), 2, &["sicha's own"]);
        let description = toml_error(&one_tool("", "").replace("Look up an order.", " "));
        assert_refused(&description, 3, &["description is empty"]);
    }

    #[test]
    fn loopback_urls_may_be_plain_http_for_development() {
        for url in [
            "http://localhost:3000/x",
            "http://LOCALHOST/x",
            "http://127.0.0.1:8080/x",
            "http://127.1.2.3/x",
            "http://[::1]:8080/x",
            "https://10.0.0.1/x",
        ] {
            let text = one_tool("", "").replace("https://shop.example/lookup", url);
            assert!(
                BusinessTools::parse(&text, ToolsFileFormat::Toml).is_ok(),
                "{url}"
            );
        }
    }

    #[test]
    fn a_second_tool_of_the_same_name_is_refused_at_its_own_name() {
        let text = format!("{}\n{}", one_tool("", ""), one_tool("", ""));
        assert_refused(&toml_error(&text), 7, &["\"lookup\" is already declared"]);
    }

    #[test]
    fn a_schema_never_reaches_outside_itself() {
        let remote = r##"{"tools": [{"name": "x", "description": "d", "url": "https://a.example/x",
            "parameters": {"type": "object", "properties": {"p": {"$ref": "https://schemas.example/p.json"}}}}]}"##;
        assert_refused(&json_error(remote), 2, &["not a valid JSON Schema"]);
        let local = r##"{"tools": [{"name": "x", "description": "d", "url": "https://a.example/x",
            "parameters": {"type": "object", "$defs": {"day": {"type": "string"}},
                           "properties": {"p": {"$ref": "#/$defs/day"}}}}]}"##;
        let tools = BusinessTools::parse(local, ToolsFileFormat::Json).unwrap();
        let tool = tools.get("x").unwrap();
        assert!(tool.check_arguments(&json!({"p": "sunday"})).is_ok());
        assert!(tool.check_arguments(&json!({"p": 1})).is_err());
    }

    #[test]
    fn json_errors_name_their_line_and_column() {
        let syntax = json_error("{\n  \"tools\": [\n    {\"name\": \"x\",}\n  ]\n}");
        assert_eq!((syntax.line, syntax.column), (3, 18), "{syntax}");
        assert!(!syntax.problem.contains("at line"), "{syntax}");

        let unknown = json_error("{\n  \"tools\": [],\n  \"max_calls\": 3\n}");
        assert_refused(&unknown, 3, &["unknown field `max_calls`"]);

        let second_url =
            SALON_JSON.replace("http://127.0.0.1:8080/book", "http://salon.example/book");
        let error = json_error(&second_url);
        assert_refused(&error, 15, &["plain http"]);
        assert_eq!(error.column, 14, "{error}");

        let reserved = SALON_JSON.replace("\"book_appointment\"", "\"end_call\"");
        assert_refused(&json_error(&reserved), 13, &["sicha's own"]);
        let schema = SALON_JSON.replace("\"minLength\": 1", "\"minLength\": -1");
        let schema = json_error(&schema);
        assert_refused(&schema, 25, &["/properties/name/minLength", "-1"]);
        assert_eq!(schema.column, 51, "at the -1: {schema}");
        assert_refused(&json_error("{}"), 1, &["declares no tools"]);
        assert_refused(&json_error(""), 1, &["EOF"]);
    }

    #[test]
    fn the_readme_example_is_a_valid_tools_file() {
        let readme = include_str!("../../README.md");
        let section = &readme[readme
            .find("## Business tools")
            .expect("a Business tools section")..];
        let start = section.find("```toml\n").expect("a TOML example") + "```toml\n".len();
        let example = &section[start..start + section[start..].find("```").unwrap()];
        let tools = BusinessTools::parse(example, ToolsFileFormat::Toml).unwrap();
        assert!(
            tools.tools().iter().any(ToolDeclaration::confirm),
            "a tool needs confirming"
        );
    }
}
