//! Where in a tools file's text a value is: a path of keys and indices turned into a byte offset
//! (through the TOML parser's spans, or a small walk over the JSON text), and an offset into a
//! line and column.

use toml::de::DeTable;

use super::checks::PathStep;
use super::tools_file::ToolsFileFormat;

/// The byte offset of the value at `path` in `text`, a file that already parsed. When the path
/// cannot be followed to its end, the deepest value found; the start of the file at worst.
pub(super) fn offset(text: &str, format: ToolsFileFormat, path: &[PathStep]) -> usize {
    match format {
        ToolsFileFormat::Toml => toml_offset(text, path),
        ToolsFileFormat::Json => json_offset(text, path),
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn toml_offset(text: &str, path: &[PathStep]) -> usize {
    let Ok(root) = DeTable::parse(text) else {
        return 0;
    };
    let Some((PathStep::Key(first), rest)) = path.split_first() else {
        return 0;
    };
    let Some(mut value) = root.get_ref().get(first.as_ref()) else {
        return 0;
    };
    for step in rest {
        let next = match step {
            PathStep::Key(key) => value.get_ref().get(key.as_ref()),
            PathStep::Index(index) => value.get_ref().get(*index),
        };
        match next {
            Some(next) => value = next,
            None => break,
        }
    }
    value.span().start
}

fn json_offset(text: &str, path: &[PathStep]) -> usize {
    let mut walk = JsonWalk {
        bytes: text.as_bytes(),
        at: 0,
    };
    walk.skip_space();
    let mut found = walk.at;
    for step in path {
        let entered = match step {
            PathStep::Key(key) => walk.enter_member(key),
            PathStep::Index(index) => walk.enter_element(*index),
        };
        if !entered {
            break;
        }
        found = walk.at;
    }
    found
}

/// A cursor over JSON text known to be valid (serde_json read it first), so it only needs to tell
/// strings, containers and scalars apart to step over values.
struct JsonWalk<'t> {
    bytes: &'t [u8],
    at: usize,
}

impl JsonWalk<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    /// From an object's `{` to the value of its member `key`.
    fn enter_member(&mut self, key: &str) -> bool {
        if self.peek() != Some(b'{') {
            return false;
        }
        self.at += 1;
        loop {
            self.skip_space();
            if self.peek() != Some(b'"') {
                return false;
            }
            let name_start = self.at + 1;
            self.skip_string();
            let name = &self.bytes[name_start..self.at - 1];
            self.skip_space();
            self.at += 1; // the colon
            self.skip_space();
            if name == key.as_bytes() {
                return true;
            }
            if !self.skip_value_and_comma() {
                return false;
            }
        }
    }

    /// From an array's `[` to its element `index`.
    fn enter_element(&mut self, index: usize) -> bool {
        if self.peek() != Some(b'[') {
            return false;
        }
        self.at += 1;
        self.skip_space();
        for _ in 0..index {
            if self.peek() == Some(b']') || !self.skip_value_and_comma() {
                return false;
            }
            self.skip_space();
        }
        self.peek().is_some_and(|b| b != b']')
    }

    /// Steps over one value and the comma after it; `false` at the end of its container.
    fn skip_value_and_comma(&mut self) -> bool {
        self.skip_value();
        self.skip_space();
        if self.peek() == Some(b',') {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn skip_value(&mut self) {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(byte) = self.peek() {
                    match byte {
                        b'"' => {
                            self.skip_string();
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return;
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
            }
        }
    }

    /// From a string's opening quote to just past its closing one.
    fn skip_string(&mut self) {
        self.at += 1;
        while let Some(byte) = self.peek() {
            self.at += if byte == b'\\' { 2 } else { 1 };
            if byte == b'"' {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{
  "tools": [
    {"name": "a", "parameters": {"x": [1, {"y": "]}\"", "z": 2}]}, "url": "u1"},
    {"name": "b",
     "url": "u2"}
  ]
}"#;

    fn json_at(path: &[PathStep]) -> (usize, usize) {
        line_column(JSON, json_offset(JSON, path))
    }

    #[test]
    fn json_paths_lead_to_their_values_past_nested_containers_and_escaped_quotes() {
        use PathStep::Index;
        let key = PathStep::key;
        assert_eq!(json_at(&[key("tools"), Index(0), key("url")]), (3, 75));
        assert_eq!(json_at(&[key("tools"), Index(1), key("url")]), (5, 13));
        assert_eq!(json_at(&[key("tools"), Index(1), key("name")]), (4, 14));
        // A path that cannot be followed stops at the deepest value found.
        assert_eq!(json_at(&[key("tools"), Index(7), key("url")]), (2, 12));
        assert_eq!(json_at(&[key("nothing")]), (1, 1));
        assert_eq!(json_at(&[]), (1, 1));
    }

    #[test]
    fn toml_paths_use_the_parser_spans() {
        use PathStep::Index;
        let key = PathStep::key;
        let text = "max_calls_per_call = 3\n\n[[tools]]\nname = \"a\"\n\n[[tools]]\nname = \"b\"\nurl = \"u\"\n";
        let at = |path: &[PathStep]| line_column(text, toml_offset(text, path));
        assert_eq!(at(&[key("max_calls_per_call")]), (1, 22));
        assert_eq!(at(&[key("tools"), Index(1), key("url")]), (8, 7));
        assert_eq!(at(&[key("tools"), Index(0), key("name")]), (4, 8));
        assert_eq!(at(&[]), (1, 1));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "א = 1\nשם = \"x\"";
        assert_eq!(line_column(text, text.find('"').unwrap()), (2, 6));
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, text.len() + 10), (2, 9));
    }
}
