//! Twilio's `X-Twilio-Signature` on the requests it makes to us (status callbacks):
//! base64(HMAC-SHA1(auth token, URL + every form parameter as name+value, sorted by
//! name)). The URL is the one keyward gave Twilio, from configuration, never from the
//! request's Host header.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// The signature Twilio computes for `url` and the decoded form `params` (repeats included).
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    // By name, then value, in byte order; an identical repeated pair counts once.
    sorted.sort();
    sorted.dedup();
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `header` is Twilio's signature of the request. Twilio may have signed the URL
/// with or without its default port, so both forms are tried; the comparison takes the
/// same time whatever the header holds.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    url_forms(url).iter().any(|form| bool::from(compute(auth_token, form, params).as_bytes().ct_eq(header.as_bytes())))
}

/// The URL as given, without its default port, and with it.
fn url_forms(url: &str) -> Vec<String> {
    let mut forms = vec![url.to_owned()];
    let Some((scheme, rest)) = url.split_once("://") else { return forms };
    let default_port = match scheme {
        "https" => ":443",
        "http" => ":80",
        _ => return forms,
    };
    let (authority, tail) = rest.find(['/', '?']).map_or((rest, ""), |i| rest.split_at(i));
    if let Some(host) = authority.strip_suffix(default_port) {
        forms.push(format!("{scheme}://{host}{tail}"));
    } else if !authority.contains(':') {
        forms.push(format!("{scheme}://{authority}{default_port}{tail}"));
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn call_params() -> Vec<(String, String)> {
        params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ])
    }

    /// The published vectors (sms.md §2.3: twilio-python and twilio-go's own tests).
    #[test]
    fn twilios_test_vectors() {
        assert_eq!(compute("12345", URL, &call_params()), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(
            compute("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", &call_params()),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        assert_eq!(
            compute("12345", "http://mycompany.com:80/myapp.php?foo=1&bar=2", &call_params()),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        );
        let repeated = params(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(compute("12345", URL, &repeated), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        let conference = params(&[
            ("Digits", "1234"),
            ("CallSid", "CA1234567890ABCDE"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
            ("From", "+14158675309"),
            ("ReasonConferenceEnded", "test"),
            ("Reason", "Participant"),
        ]);
        assert_eq!(compute("12345", URL, &conference), "vOEb5UThFn24KEfnOFLQY2AE5FY=");
        assert_eq!(
            compute("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", &conference),
            "n2xBNyzSW7rfYStDtOFiFMv7qNo="
        );
    }

    #[test]
    fn a_keyward_shaped_callback_verifies_and_a_tampered_one_does_not() {
        let token = "0123456789abcdef0123456789abcdef";
        let url = "https://keyward.example.com/twilio/status?org=0190c3e2-7b1a-7c3d-9e4f-5a6b7c8d9e0f";
        let mut body = params(&[
            ("MessageStatus", "undelivered"),
            ("SmsSid", "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ("SmsStatus", "undelivered"),
            ("MessageSid", "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ("From", "+15005550006"),
            ("AccountSid", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ("To", "+447400123456"),
            ("ApiVersion", "2010-04-01"),
            ("ErrorCode", "30003"),
        ]);
        assert!(verify(token, url, &body, "njuKQEZND02GJxY4oWj0yBQQXs8="));
        body[0].1 = "delivered".to_owned();
        assert!(!verify(token, url, &body, "njuKQEZND02GJxY4oWj0yBQQXs8="));
        assert_eq!(compute(token, url, &body), "XRopsqY3in+CDw8p+nkpk5/MCUM=");
        assert!(!verify("another token", url, &body, "XRopsqY3in+CDw8p+nkpk5/MCUM="));
        assert!(!verify(token, url, &body, ""));
    }

    #[test]
    fn the_port_may_be_signed_or_not() {
        let signed_with_port = compute("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", &call_params());
        assert!(verify("12345", URL, &call_params(), &signed_with_port));
        let signed_without = compute("12345", URL, &call_params());
        assert!(verify("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", &call_params(), &signed_without));
    }
}
