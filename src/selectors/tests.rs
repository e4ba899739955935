use super::*;
use std::collections::BTreeMap;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn parse_good_and_round_trip() {
    // From upstream TestSelectorParse.
    let cases = [
        ("", ""),
        ("x=a,y=b,z=c", "x=a,y=b,z=c"),
        ("x!=a,y=b", "x!=a,y=b"),
        ("x=,z= ", "x=,z="),
        ("x= ,z= ", "x=,z="),
        ("!x", "!x"),
        ("x>1", "x>1"),
        ("x>1,z<5", "x>1,z<5"),
        ("x in (a,b)", "x in (a,b)"),
        ("x in (b,a)", "x in (a,b)"),
        ("x notin (a)", "x notin (a)"),
        ("x in ()", "x in ()"),
        ("x==a", "x==a"),
        ("  x  ", "x"),
        ("z,y=b,x", "x,y=b,z"),
        (
            "x in (foo,,baz),y,z notin ()",
            "x in (,baz,foo),y,z notin ()",
        ),
        ("x in (in)", "x in (in)"),
    ];
    for (input, want) in cases {
        let sel = Selector::parse(input);
        assert_eq!(
            sel.as_ref().map(|s| s.to_string()),
            Ok(want.to_string()),
            "{input}"
        );
    }
}

#[test]
fn parse_errors() {
    for bad in [
        "x=a||y=b", "x==a==b", "!x=a", "x<a", "x in (a", "x in", "=a", "x,", "x=a,", "x@y", "x>",
        "x in a", ",x",
    ] {
        assert!(Selector::parse(bad).is_err(), "{bad} should fail");
    }
    assert_eq!(
        Selector::parse("x in a").err().as_deref(),
        Some("unable to parse requirement: found 'a' expected: '('")
    );
    assert_eq!(
        Selector::parse(",x").err().as_deref(),
        Some("found ',', expected: !, identifier, or 'end of string'")
    );
    assert_eq!(
        Selector::parse("x=a,").err().as_deref(),
        Some("found '', expected: identifier after ','")
    );
    assert_eq!(
        Selector::parse("x y").err().as_deref(),
        Some("unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt")
    );
    assert_eq!(
        Selector::parse("x<a").err().as_deref(),
        Some("unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer")
    );
    assert_eq!(
        Selector::parse("x@y").err().as_deref(),
        Some("unable to parse requirement: <nil>: Invalid value: \"x@y\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
    );
    assert_eq!(
        Selector::parse("x=a b").err().as_deref(),
        Some("found 'b', expected: ',' or 'end of string'")
    );
    assert_eq!(
        Selector::parse("x=a@b").err().as_deref(),
        Some("unable to parse requirement: values[0][x]: Invalid value: \"a@b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
    );
}

#[test]
fn matching() {
    let ls = labels(&[("x", "y"), ("n", "5")]);
    let check = |s: &str, want: bool| {
        let sel = Selector::parse(s).unwrap_or_else(|_| Selector::nothing());
        assert_eq!(sel.matches(&ls), want, "{s}");
    };
    check("", true);
    check("x=y", true);
    check("x==y", true);
    check("x=z", false);
    check("x!=z", true);
    check("x!=y", false);
    check("y!=z", true);
    check("x in (y,z)", true);
    check("x notin (y)", false);
    check("y notin (a)", true);
    check("x", true);
    check("!x", false);
    check("!y", true);
    check("n>4", true);
    check("n<4", false);
    check("x>1", false);
    check("x=y,n>4", true);
    check("x=y,n>5", false);
    assert!(!Selector::nothing().matches(&ls));
    assert!(Selector::everything().matches(&ls));
    assert!(Selector::everything().is_empty());
    assert!(!Selector::nothing().is_empty());
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(r#"{"x":"y","n":5}"#).unwrap_or_default();
    assert!(Selector::parse("x=y").is_ok_and(|s| s.matches(&json)));
    assert!(Selector::parse("n").is_ok_and(|s| !s.matches(&json)));
}

#[test]
fn from_label_selector() {
    let v = serde_json::json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "env", "operator": "DoesNotExist"}
        ]
    });
    let sel = Selector::from_label_selector(&v);
    assert_eq!(
        sel.as_ref().map(|s| s.to_string()),
        Ok("app=web,!env,tier in (a,b)".to_string())
    );
    let sel = sel.unwrap_or_else(|_| Selector::nothing());
    assert!(sel.matches(&labels(&[("app", "web"), ("tier", "a")])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "a"), ("env", "x")])));
    assert_eq!(
        Selector::from_label_selector(&serde_json::json!({})),
        Ok(Selector::everything())
    );
    assert_eq!(
        Selector::from_label_selector(&serde_json::Value::Null),
        Ok(Selector::nothing())
    );
    assert_eq!(
        Selector::from_label_selector(
            &serde_json::json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
        ),
        Err("\"Foo\" is not a valid label selector operator".to_string())
    );
    assert_eq!(
        Selector::from_label_selector(&serde_json::json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
        Err("values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty".to_string())
    );
}
