//! Value syntax both configuration files share (`flashphoner.properties` and
//! `loadbalancing.xml`). A leaf: it must not import either parser.

/// `true` or `false` in any ASCII case, as WCS reads them; anything else is `None`.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_in_any_case_and_nothing_else() {
        assert_eq!(parse_bool("true"), Some(true));
        assert_eq!(parse_bool("FALSE"), Some(false));
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("yes"), None);
        assert_eq!(parse_bool(" true"), None);
        assert_eq!(parse_bool(""), None);
    }
}
