//! The request shapes a derive cannot state: `POST /api/v1/login` takes one of three bodies
//! (first step, continuation, step-up), which the handler tells apart by the fields present.
//! Written into the description as JSON, so the fuzzer and client generators see the same
//! rule the handler enforces instead of one object with every field optional.

use serde_json::{Value, json};

/// What a text field of the API may hold: no control characters (`char::is_control`, the
/// rule of `account::validate_text_field`). The field attributes spell it as a literal (a
/// derive takes no constant); a test holds every pattern of the description to this one or
/// the next.
#[cfg(test)]
pub const TEXT: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// The same, and not blank (a reason, a name): at least one character that is neither
/// white space nor a control character.
pub const NON_BLANK: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// Adds the login body's three shapes to the description's `LoginRequest`.
pub fn apply(doc: &mut Value) {
    let Some(login) = doc.pointer_mut("/components/schemas/LoginRequest") else {
        return;
    };
    let text = |max: u64| json!({ "type": "string", "minLength": 1, "maxLength": max });
    let secret = json!({ "type": "string", "minLength": 1, "maxLength": 4096 });
    let answers = ["new_password", "code", "recovery_code", "break_glass_code"];
    let mut continuations: Vec<Value> = answers
        .iter()
        .map(|a| json!({ "required": [a], "properties": { *a: secret.clone() } }))
        .collect();
    continuations.push(
        json!({ "required": ["webauthn"], "properties": { "webauthn": { "type": "object" } } }),
    );
    let mut username = text(64);
    username["pattern"] = json!(NON_BLANK);
    let shapes = json!([
        {
            "title": "First step: username and password",
            "required": ["username", "password"],
            "properties": { "username": username, "password": secret,
                            "flow_id": { "type": "null" }, "step_up": { "const": false } }
        },
        {
            "title": "Continuation: the flow id and the step's answer",
            "required": ["flow_id"],
            "properties": { "flow_id": text(128), "username": { "type": "null" },
                            "password": { "type": "null" }, "step_up": { "const": false } },
            "oneOf": continuations
        },
        {
            "title": "Step-up: a second factor for the session the cookie carries",
            "required": ["step_up"],
            "properties": { "step_up": { "const": true }, "flow_id": { "type": "null" },
                            "username": { "type": "null" }, "password": { "type": "null" } }
        }
    ]);
    if let Some(obj) = login.as_object_mut() {
        obj.insert("oneOf".to_owned(), shapes);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_text_pattern_is_the_validation_s_rule() {
        // The pattern's two ranges are exactly the characters `char::is_control` refuses.
        let refused: Vec<u32> = (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_control())
            .map(u32::from)
            .collect();
        let ranges: Vec<u32> = (0..=0x1F).chain(0x7F..=0x9F).collect();
        assert_eq!(refused, ranges);
        assert!(super::TEXT.contains("\\u0000-\\u001f") && super::TEXT.contains("\\u007f-\\u009f"));
    }
}
