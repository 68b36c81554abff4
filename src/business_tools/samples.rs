//! Tools files shared by this module's tests.

use super::{BusinessTools, ToolsFileFormat};

/// A hair salon's tools: a lookup, and a booking the caller must agree to first.
pub const SALON_TOML: &str = r#"# The salon's tools.
max_calls_per_call = 6

[[tools]]
name = "check_availability"
description = "Free appointment slots on a given day."
url = "https://booking.example.com/sicha/availability"
timeout_ms = 3000
waiting_phrase = "רגע, אני בודקת ביומן"
parameters = { type = "object", properties = { date = { type = "string" } }, required = ["date"] }

[[tools]]
name = "book_appointment"
description = "Book an appointment once the caller agreed to the day, time and name."
url = "http://127.0.0.1:8080/book"
confirm = true
max_per_call = 2

[tools.parameters]
type = "object"
required = ["date", "time", "name"]
additionalProperties = false

[tools.parameters.properties.date]
type = "string"
pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

[tools.parameters.properties.time]
type = "string"

[tools.parameters.properties.name]
type = "string"
minLength = 1
"#;

/// The same tools written as JSON.
pub const SALON_JSON: &str = r#"{
  "max_calls_per_call": 6,
  "tools": [
    {
      "name": "check_availability",
      "description": "Free appointment slots on a given day.",
      "url": "https://booking.example.com/sicha/availability",
      "timeout_ms": 3000,
      "waiting_phrase": "רגע, אני בודקת ביומן",
      "parameters": {"type": "object", "properties": {"date": {"type": "string"}}, "required": ["date"]}
    },
    {
      "name": "book_appointment",
      "description": "Book an appointment once the caller agreed to the day, time and name.",
      "url": "http://127.0.0.1:8080/book",
      "confirm": true,
      "max_per_call": 2,
      "parameters": {
        "type": "object",
        "required": ["date", "time", "name"],
        "additionalProperties": false,
        "properties": {
          "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
          "time": {"type": "string"},
          "name": {"type": "string", "minLength": 1}
        }
      }
    }
  ]
}"#;

pub fn salon() -> BusinessTools {
    BusinessTools::parse(SALON_TOML, ToolsFileFormat::Toml)
        .expect("the salon's tools file is valid")
}
