//! "Firefox 132 on Linux" from a raw `User-Agent`, through woothee (a
//! maintained parser with its own data set), never regexes of ours.

use std::sync::LazyLock;

static PARSER: LazyLock<woothee::parser::Parser> = LazyLock::new(woothee::parser::Parser::new);

const UNKNOWN: &str = "UNKNOWN";
/// Longest fallback shown for an agent the parser does not know.
const FALLBACK_CHARS: usize = 40;

/// A short, readable name for the device behind `user_agent`.
pub fn describe(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
        return "Unknown device".to_owned();
    };
    if let Some(parsed) = known(ua) {
        let mut text = parsed.name.to_owned();
        let major = parsed.version.split('.').next().unwrap_or_default();
        if !major.is_empty() && major != UNKNOWN {
            text = format!("{text} {major}");
        }
        if parsed.os != UNKNOWN {
            text = format!("{text} on {}", parsed.os);
        }
        return text;
    }
    // A tool such as `curl/8.5.0`, or an agent woothee does not know: its
    // first product token.
    ua.split_whitespace().next().unwrap_or(ua).chars().take(FALLBACK_CHARS).collect()
}

/// What woothee makes of `ua`, unless it does not know it. woothee files
/// tools such as curl under one generic name ("HTTP Library"): their own
/// product token says more.
fn known(ua: &str) -> Option<woothee::parser::WootheeResult<'_>> {
    let tool = !ua.starts_with("Mozilla/");
    PARSER.parse(ua).filter(|p| p.name != UNKNOWN && !(tool && matches!(p.category, "crawler" | "misc")))
}

/// The browser and system behind `user_agent`, without versions ("Firefox
/// on Linux"): what makes two sessions the same device for the notice of a
/// login from a new one (`store::devices`). A browser's update is not a new
/// device. Never empty, and at most a few dozen characters.
pub fn family(user_agent: Option<&str>) -> String {
    const UNKNOWN_DEVICE: &str = "an unknown device";
    let Some(ua) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
        return UNKNOWN_DEVICE.to_owned();
    };
    match known(ua) {
        Some(parsed) if parsed.os != UNKNOWN => format!("{} on {}", parsed.name, parsed.os),
        Some(parsed) => parsed.name.to_owned(),
        None => match ua.split(['/', ' ']).next().unwrap_or(ua) {
            "" => UNKNOWN_DEVICE.to_owned(),
            token => token.chars().take(FALLBACK_CHARS).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{describe, family};

    #[test]
    fn a_device_is_its_browser_and_system_whatever_their_versions() {
        let firefox = |version: &str| format!("Mozilla/5.0 (X11; Linux x86_64; rv:{version}) Gecko/20100101 Firefox/{version}");
        assert_eq!(family(Some(&firefox("132.0"))), "Firefox on Linux");
        assert_eq!(family(Some(&firefox("132.0"))), family(Some(&firefox("133.0"))), "an update is the same device");
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_ne!(family(Some(chrome)), family(Some(&firefox("132.0"))));
        assert_eq!(family(Some("curl/8.5.0")), family(Some("curl/7.88.1")));
        assert_eq!(family(Some("curl/8.5.0")), "curl");
        assert_eq!(family(None), family(Some("  ")));
    }

    #[test]
    fn common_browsers_read_as_name_major_version_and_system() {
        for (ua, expected) in [
            ("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", "Firefox 132 on Linux"),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome 131 on Windows 10",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari 17 on iPhone",
            ),
            ("curl/8.5.0", "curl/8.5.0"),
            ("python-requests/2.32.3", "python-requests/2.32.3"),
            ("", "Unknown device"),
        ] {
            assert_eq!(describe(Some(ua)), expected, "case {ua:?}");
        }
        assert_eq!(describe(None), "Unknown device");
    }
}
