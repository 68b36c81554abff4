//! X-Twilio-Signature: HMAC-SHA1 keyed with the auth token over the full URL Twilio requested followed by
//! every form parameter as name then value, sorted; base64 (standard alphabet, padded).
//!
//! Repeated names: Twilio's SDKs sort the values of a repeated name too, so parameters are sorted by
//! (name, value). The SDKs disagree on exact duplicate pairs (one keeps them, one drops them), so
//! validation accepts either reading. The WebSocket upgrade is signed over its `wss://` URL with no
//! parameters. The JSON-body variant signs the URL alone and carries the body's SHA-256 as `bodySHA256`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha1 = Hmac<Sha1>;

/// The signature Twilio sends for a request to `url` carrying `params` (empty for GET, JSON bodies and
/// the WebSocket upgrade).
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sign_sorted(auth_token, url, &sorted)
}

/// Checks `signature` against `url` and `params`, trying the URL as given and with its default port
/// (:443 for https/wss, :80 for http/ws) added or removed, as Twilio's SDKs do.
pub fn is_valid(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut deduplicated = sorted.clone();
    deduplicated.dedup();
    let mut readings = vec![sorted];
    if deduplicated.len() != readings[0].len() {
        readings.push(deduplicated);
    }
    let mut valid = false;
    for candidate in url_variants(url) {
        for reading in &readings {
            // No early return: every candidate is checked, each in constant time.
            valid |= constant_time_eq(&sign_sorted(auth_token, &candidate, reading), signature);
        }
    }
    valid
}

/// Checks a JSON-body request: `url_with_body_sha256` carries `bodySHA256` (hex SHA-256 of `body`) in its
/// query string and the signature covers the URL alone.
pub fn is_valid_json_body(
    auth_token: &str,
    url_with_body_sha256: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    let Some(claimed) = body_sha256_param(url_with_body_sha256) else {
        return false;
    };
    let actual = hex_lower(&Sha256::digest(body));
    let body_matches = constant_time_eq(&actual, &claimed.to_ascii_lowercase());
    let signature_matches = is_valid(auth_token, url_with_body_sha256, &[], signature);
    body_matches & signature_matches
}

fn sign_sorted(auth_token: &str, url: &str, sorted: &[&(String, String)]) -> String {
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

fn constant_time_eq(expected: &str, given: &str) -> bool {
    // `ct_eq` on slices of different lengths is false without comparing contents; the length of a
    // base64 SHA-1 is public anyway.
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

fn body_sha256_param(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(before, _)| before);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "bodySHA256")
        .map(|(_, value)| value.into_owned())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The URL as given, plus the same URL with its scheme's default port toggled. String surgery, not a URL
/// parser: the signature covers the exact characters Twilio used, which a parser would normalise.
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return variants;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => "443",
        "http" | "ws" => "80",
        _ => return variants,
    };
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_len);
    // The host starts after any user info; an IPv6 host is bracketed, so its colons are not a port.
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host_and_port = &authority[host_start..];
    let port_colon = host_and_port
        .rfind(':')
        .filter(|&colon| !host_and_port[colon..].contains(']'));
    match port_colon {
        Some(colon) if &host_and_port[colon + 1..] == default_port => {
            let without = &authority[..host_start + colon];
            variants.push(format!("{scheme}://{without}{tail}"));
        }
        Some(_) => {}
        None => variants.push(format!("{scheme}://{authority}:{default_port}{tail}")),
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    // Twilio's published request-validation example.
    const DOC_TOKEN: &str = "12345";
    const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const DOC_SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    fn doc_params() -> Vec<(String, String)> {
        // Deliberately out of order: sorting is the function's job.
        pairs(&[
            ("To", "+18005551212"),
            ("Digits", "1234"),
            ("CallSid", "CA1234567890ABCDE"),
            ("From", "+14158675309"),
            ("Caller", "+14158675309"),
        ])
    }

    #[test]
    fn published_example_computes_the_published_signature() {
        assert_eq!(compute(DOC_TOKEN, DOC_URL, &doc_params()), DOC_SIGNATURE);
        assert!(is_valid(DOC_TOKEN, DOC_URL, &doc_params(), DOC_SIGNATURE));
    }

    #[test]
    fn tampered_params_url_token_or_signature_fail() {
        let mut changed_value = doc_params();
        changed_value[1].1 = "1235".into();
        assert!(!is_valid(DOC_TOKEN, DOC_URL, &changed_value, DOC_SIGNATURE));

        let mut extra = doc_params();
        extra.push(("Extra".into(), String::new()));
        assert!(!is_valid(DOC_TOKEN, DOC_URL, &extra, DOC_SIGNATURE));

        let missing = doc_params()[1..].to_vec();
        assert!(!is_valid(DOC_TOKEN, DOC_URL, &missing, DOC_SIGNATURE));

        assert!(!is_valid(
            DOC_TOKEN,
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &doc_params(),
            DOC_SIGNATURE
        ));
        assert!(!is_valid("12346", DOC_URL, &doc_params(), DOC_SIGNATURE));
        assert!(!is_valid(
            DOC_TOKEN,
            DOC_URL,
            &doc_params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8"
        ));
        assert!(!is_valid(DOC_TOKEN, DOC_URL, &doc_params(), ""));
    }

    #[test]
    fn name_and_value_boundaries_matter() {
        // "ab"+"c" and "a"+"bc" concatenate alike; Twilio's scheme cannot tell them apart, and neither do we.
        let joined = compute("t", "https://h/", &pairs(&[("ab", "c")]));
        assert_eq!(joined, compute("t", "https://h/", &pairs(&[("a", "bc")])));
        // But the order of different names is fixed by sorting, whatever order they arrived in.
        let one = compute("t", "https://h/", &pairs(&[("B", "1"), ("A", "2")]));
        assert_eq!(
            one,
            compute("t", "https://h/", &pairs(&[("A", "2"), ("B", "1")]))
        );
    }

    #[test]
    fn repeated_names_sort_their_values_and_tolerate_duplicates() {
        let url = "https://h/sms";
        let in_order = pairs(&[("MediaUrl", "a"), ("MediaUrl", "b")]);
        let reversed = pairs(&[("MediaUrl", "b"), ("MediaUrl", "a")]);
        assert_eq!(compute("t", url, &in_order), compute("t", url, &reversed));

        let with_duplicate = pairs(&[("MediaUrl", "a"), ("MediaUrl", "a"), ("MediaUrl", "b")]);
        let kept = compute("t", url, &with_duplicate);
        let dropped = compute("t", url, &in_order);
        assert_ne!(kept, dropped);
        assert!(is_valid("t", url, &with_duplicate, &kept));
        assert!(is_valid("t", url, &with_duplicate, &dropped));
    }

    #[test]
    fn default_port_is_accepted_either_way() {
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        let signed_with_port = compute(DOC_TOKEN, with_port, &doc_params());
        assert!(is_valid(
            DOC_TOKEN,
            DOC_URL,
            &doc_params(),
            &signed_with_port
        ));
        assert!(is_valid(DOC_TOKEN, with_port, &doc_params(), DOC_SIGNATURE));

        let http_plain = "http://example.com/voice";
        let http_port = "http://example.com:80/voice";
        assert!(is_valid(
            "t",
            http_port,
            &[],
            &compute("t", http_plain, &[])
        ));
        assert!(is_valid(
            "t",
            http_plain,
            &[],
            &compute("t", http_port, &[])
        ));

        // Another port is another URL.
        let other_port = "https://mycompany.com:8443/myapp.php?foo=1&bar=2";
        assert!(!is_valid(
            DOC_TOKEN,
            other_port,
            &doc_params(),
            DOC_SIGNATURE
        ));
        // The http default does not stand in for https.
        let wrong_default = "https://mycompany.com:80/myapp.php?foo=1&bar=2";
        assert!(!is_valid(
            DOC_TOKEN,
            wrong_default,
            &doc_params(),
            DOC_SIGNATURE
        ));
    }

    #[test]
    fn websocket_upgrade_is_signed_over_the_wss_url_without_params() {
        let url = "wss://agent.example.com/twilio/stream";
        let signature = compute("secret", url, &[]);
        assert!(is_valid("secret", url, &[], &signature));
        assert!(is_valid(
            "secret",
            "wss://agent.example.com:443/twilio/stream",
            &[],
            &signature
        ));
        assert!(!is_valid(
            "secret",
            "https://agent.example.com/twilio/stream",
            &[],
            &signature
        ));
        assert!(!is_valid(
            "secret",
            "ws://agent.example.com/twilio/stream",
            &[],
            &signature
        ));
    }

    #[test]
    fn url_variants_handle_user_info_ipv6_and_no_path() {
        assert_eq!(url_variants("https://h"), ["https://h", "https://h:443"]);
        assert_eq!(
            url_variants("wss://u:p@h:443?q=1"),
            ["wss://u:p@h:443?q=1", "wss://u:p@h?q=1"]
        );
        assert_eq!(
            url_variants("http://[::1]/x"),
            ["http://[::1]/x", "http://[::1]:80/x"]
        );
        assert_eq!(
            url_variants("http://[::1]:80/x"),
            ["http://[::1]:80/x", "http://[::1]/x"]
        );
        assert_eq!(url_variants("ftp://h/x"), ["ftp://h/x"]);
        assert_eq!(url_variants("not a url"), ["not a url"]);
    }

    #[test]
    fn json_body_variant_checks_hash_and_url_signature() {
        let body = br#"{"CallSid":"CA1","note":"\u05e9\u05dc\u05d5\u05dd"}"#;
        let hash = hex_lower(&Sha256::digest(body));
        let url = format!("https://h.example/hook?bodySHA256={hash}");
        let signature = compute("tok", &url, &[]);
        assert!(is_valid_json_body("tok", &url, body, &signature));

        assert!(
            !is_valid_json_body("tok", &url, b"{}", &signature),
            "other body"
        );
        assert!(
            !is_valid_json_body("other", &url, body, &signature),
            "other token"
        );
        let other_hash_url = format!(
            "https://h.example/hook?bodySHA256={}",
            hex_lower(&Sha256::digest(b"{}"))
        );
        let other_signature = compute("tok", &other_hash_url, &[]);
        assert!(
            !is_valid_json_body("tok", &other_hash_url, body, &other_signature),
            "hash of another body"
        );
        let no_hash = "https://h.example/hook";
        assert!(!is_valid_json_body(
            "tok",
            no_hash,
            body,
            &compute("tok", no_hash, &[])
        ));
    }
}
