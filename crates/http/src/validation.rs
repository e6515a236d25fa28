//! One helper that collects every bad field of a request at once. Each dialect renders the
//! collected errors in its own shape (Laravel's `errors` map, the VA `VALIDATION_ERROR` data, the
//! Bill24 message, CSQ's 900).

use std::collections::BTreeMap;

/// Field path (`customer.email`, `product.0.price`) -> messages, in field order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    /// Records `Err` results; passes `Ok` values through as `Some`.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn fields(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.0.iter()
    }

    pub fn contains(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// `Ok(())` when nothing was collected.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Every message on one line: `due: The due field is required.; currency: ...`.
    pub fn summary(&self) -> String {
        self.0
            .iter()
            .flat_map(|(f, ms)| ms.iter().map(move |m| format!("{f}: {m}")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A JSON object read leniently, field by field, so that every problem can be reported at once.
pub struct Lenient<'a> {
    pub object: &'a serde_json::Map<String, serde_json::Value>,
    prefix: String,
}

impl<'a> Lenient<'a> {
    pub fn new(
        object: &'a serde_json::Map<String, serde_json::Value>,
        prefix: &str,
    ) -> Lenient<'a> {
        Lenient {
            object,
            prefix: prefix.to_string(),
        }
    }

    pub fn path(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_string()
        } else {
            format!("{}.{}", self.prefix, field)
        }
    }

    pub fn get(&self, field: &str) -> Option<&'a serde_json::Value> {
        self.object.get(field).filter(|v| !v.is_null())
    }

    /// A required string (may be empty only when `allow_empty`).
    pub fn string(
        &self,
        errors: &mut FieldErrors,
        field: &str,
        required: bool,
        allow_empty: bool,
    ) -> Option<String> {
        match self.get(field) {
            None if required => {
                errors.add(self.path(field), format!("The {field} field is required."));
                None
            }
            None => None,
            Some(serde_json::Value::String(s)) => {
                if s.trim().is_empty() && !allow_empty && required {
                    errors.add(self.path(field), format!("The {field} field is required."));
                    None
                } else {
                    Some(s.clone())
                }
            }
            Some(_) => {
                errors.add(self.path(field), format!("The {field} must be a string."));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::too_many_lines)]
    use super::*;

    #[test]
    fn collects_everything() {
        let v: serde_json::Value = serde_json::json!({"a": 1, "b": "", "c": "x"});
        let obj = v.as_object().unwrap();
        let l = Lenient::new(obj, "customer");
        let mut e = FieldErrors::new();
        assert_eq!(l.string(&mut e, "a", true, false), None);
        assert_eq!(l.string(&mut e, "b", true, false), None);
        assert_eq!(l.string(&mut e, "b", true, true), Some(String::new()));
        assert_eq!(l.string(&mut e, "c", true, false), Some("x".into()));
        assert_eq!(l.string(&mut e, "d", true, false), None);
        assert_eq!(e.len(), 3);
        assert!(e.contains("customer.a") && e.contains("customer.b") && e.contains("customer.d"));
        assert!(e.summary().contains("customer.d: The d field is required."));
    }
}
