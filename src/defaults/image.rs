//! Image reference parsing for the `imagePullPolicy` default.
//!
//! Upstream parses the image with `distribution/reference.ParseNormalizedNamed`; a reference
//! with neither tag nor digest gets the implied tag `latest`, and an unparsable one has no tag.

use once_cell::sync::Lazy;
use regex::Regex;

/// The distribution reference grammar: optional domain, path components, tag and digest.
static REFERENCE: Lazy<Option<Regex>> = Lazy::new(|| {
    let domain_component = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let domain = format!(
        r"(?:{dc}(?:\.{dc})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?",
        dc = domain_component
    );
    let component = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
    let pattern = format!(
        r"^(?P<name>(?:{domain}/)?{component}(?:/{component})*)(?::(?P<tag>[\w][\w.-]{{0,127}}))?(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{{32,}}))?$"
    );
    Regex::new(&pattern).ok()
});

/// Splits off the registry domain the way `splitDockerDomain` does; returns the remainder.
fn remainder(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            rest
        }
        _ => image,
    }
}

/// True when the digest's algorithm is one the apiserver knows and its hex has the right length.
fn digest_ok(digest: &str) -> bool {
    let Some((alg, hex)) = digest.split_once(':') else {
        return false;
    };
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == want && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The tag of `image` as upstream's parser sees it: the explicit tag, `latest` when neither tag
/// nor digest is given, and `None` when there is no tag or the reference does not parse.
pub(crate) fn tag(image: &str) -> Option<String> {
    let is_identifier = image.len() == 64
        && image
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if image.is_empty() || is_identifier {
        return None;
    }
    if remainder(image).chars().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let re = REFERENCE.as_ref()?;
    let caps = re.captures(image)?;
    if caps.name("name").map_or(0, |n| n.as_str().len()) > 255 {
        return None;
    }
    let digest = caps.name("digest").map(|d| d.as_str());
    if let Some(d) = digest {
        if !digest_ok(d) {
            return None;
        }
    }
    match (caps.name("tag"), digest) {
        (Some(t), _) => Some(t.as_str().to_string()),
        (None, None) => Some("latest".to_string()),
        (None, Some(_)) => None,
    }
}

/// The pull policy upstream defaults a container with this image to.
pub(crate) fn pull_policy(image: &str) -> &'static str {
    if tag(image).as_deref() == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}
