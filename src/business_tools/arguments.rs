//! The arguments' JSON Schema: compiled when a tools file is read (an object schema, resolved
//! without ever fetching anything), and checked against each call's arguments.

use serde_json::Value;

use jsonschema::paths::LocationSegment;

use super::checks::PathStep;
use super::declaration::ToolDeclaration;

/// How many of a call's problems with its arguments are told: enough for the model to correct
/// itself, few enough to keep the tool result short.
const MAX_PROBLEMS_TOLD: usize = 5;

/// Why a tool's `parameters` is not a schema sicha can use, and where within it.
#[derive(Debug)]
pub(super) struct SchemaProblem {
    pub within: Vec<PathStep>,
    pub message: String,
}

/// Compiles a tool's `parameters`: it must be a valid JSON Schema of an object.
pub(super) fn compile_schema(schema: &Value) -> Result<jsonschema::Validator, SchemaProblem> {
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        let within = match schema.get("type") {
            Some(_) => vec![PathStep::key("type")],
            None => Vec::new(),
        };
        return Err(SchemaProblem {
            within,
            message:
                "parameters must be a JSON Schema with type = \"object\" (the arguments are an object)"
                    .into(),
        });
    }
    jsonschema::options()
        .with_retriever(NoRetrieval)
        .build(schema)
        .map_err(|error| {
            let within: Vec<PathStep> = error
                .instance_path()
                .iter()
                .map(|segment| match segment {
                    LocationSegment::Property(key) => PathStep::Key(key.into_owned().into()),
                    LocationSegment::Index(index) => PathStep::Index(index),
                })
                .collect();
            let place = if within.is_empty() {
                String::new()
            } else {
                format!(" at {}", error.instance_path())
            };
            SchemaProblem {
                within,
                message: format!("parameters is not a valid JSON Schema{place}: {error}"),
            }
        })
}

/// A `$ref` is resolved within the schema only: a tools file never makes sicha read another file
/// or fetch a URL, whatever features the schema crate is built with.
struct NoRetrieval;

impl jsonschema::Retrieve for NoRetrieval {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("{uri} is outside the schema; only references within it are resolved").into())
    }
}

impl ToolDeclaration {
    /// Checks a call's arguments against the tool's schema; the problems, each with where in the
    /// arguments it is, when they do not match.
    pub fn check_arguments(&self, arguments: &Value) -> Result<(), Vec<String>> {
        let problems: Vec<String> = self
            .schema
            .0
            .iter_errors(arguments)
            .take(MAX_PROBLEMS_TOLD)
            .map(|error| {
                let path = error.instance_path().to_string();
                if path.is_empty() {
                    error.to_string()
                } else {
                    format!("{path}: {error}")
                }
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::business_tools::samples::salon;

    #[test]
    fn arguments_matching_the_schema_pass() {
        let tools = salon();
        let book = tools.get("book_appointment").unwrap();
        let arguments = json!({"date": "2025-07-03", "time": "16:30", "name": "רות"});
        assert_eq!(book.check_arguments(&arguments), Ok(()));
    }

    #[test]
    fn each_mismatch_is_told_with_where_it_is() {
        let tools = salon();
        let book = tools.get("book_appointment").unwrap();
        let problems = book
            .check_arguments(&json!({"date": "3.7.2025", "time": 16, "extra": true}))
            .unwrap_err();
        let all = problems.join("\n");
        assert!(
            all.contains("/date") && all.contains("does not match"),
            "{all}"
        );
        assert!(
            all.contains("/time") && all.contains("not of type"),
            "{all}"
        );
        assert!(all.contains("\"name\" is a required property"), "{all}");
        assert!(
            all.contains("extra"),
            "additional properties are refused: {all}"
        );

        let not_an_object = book.check_arguments(&json!("book it")).unwrap_err();
        assert!(
            not_an_object[0].contains("not of type \"object\""),
            "{not_an_object:?}"
        );
    }

    #[test]
    fn at_most_five_problems_are_told() {
        let tools = crate::business_tools::BusinessTools::parse(
            r#"{"tools": [{"name": "many", "description": "d", "url": "https://a.example/",
                "parameters": {"type": "object", "required": ["a", "b", "c", "d", "e", "f", "g"]}}]}"#,
            crate::business_tools::ToolsFileFormat::Json,
        )
        .unwrap();
        let problems = tools
            .get("many")
            .unwrap()
            .check_arguments(&json!({}))
            .unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
    }
}
