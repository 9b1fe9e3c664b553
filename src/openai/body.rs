//! A request body as parsed, kept beside the bytes it was parsed from.
//!
//! Parsing refuses an object that names the same key twice, at any depth:
//! JSON parsers disagree on which copy wins, so a body with two `messages`
//! could be scanned as one and read upstream as the other. With that ruled
//! out, the original bytes say exactly what the parsed map says, and an
//! OpenAI-protocol backend can be sent those bytes with only the top-level
//! `model` value spliced, instead of a fresh serialisation of the whole
//! body (which costs more than the rest of the forwarding for a long
//! prompt). Any edit through `map_mut` (redaction) drops the bytes, so an
//! edited body is always serialised from the map.

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};
use std::fmt;
use std::ops::{Deref, Range};

/// A JSON object request body.
#[derive(Debug, Clone)]
pub struct Body {
    map: Map<String, Value>,
    /// The bytes parsed and the span of the top-level `model` value in
    /// them; `None` once the map has been edited.
    raw: Option<(Bytes, Range<usize>)>,
}

impl Deref for Body {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Map<String, Value> {
        &self.map
    }
}

/// Why bytes are not a request body.
#[derive(Debug)]
pub enum BodyError {
    /// Not JSON, or JSON with a duplicate key (serde_json's message).
    Json(serde_json::Error),
    /// JSON, but not an object.
    NotObject,
}

impl Body {
    /// Parses a JSON object, refusing duplicate keys anywhere in it.
    pub fn parse(bytes: &[u8]) -> Result<Body, BodyError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let top = de.deserialize_any(TopVisitor).map_err(BodyError::Json)?;
        de.end().map_err(BodyError::Json)?;
        let Some((map, model)) = top else {
            return Err(BodyError::NotObject);
        };
        // `model` is a slice of `bytes`: its offset is its address minus
        // the address of `bytes`.
        let raw = model.map(|m| {
            let start = m.get().as_ptr() as usize - bytes.as_ptr() as usize;
            (Bytes::copy_from_slice(bytes), start..start + m.get().len())
        });
        Ok(Body { map, raw })
    }

    /// The map, for editing: the original bytes are dropped.
    pub fn map_mut(&mut self) -> &mut Map<String, Value> {
        self.raw = None;
        &mut self.map
    }

    /// The body with `model` set to `model`: the original bytes with the
    /// value spliced when the body is unedited and has a `model`, else a
    /// serialisation of the map (keys sorted).
    pub fn with_model(&self, model: &str) -> Vec<u8> {
        if let Some((bytes, span)) = &self.raw {
            let quoted = Value::String(model.to_owned()).to_string();
            let mut out = Vec::with_capacity(bytes.len() + quoted.len());
            out.extend_from_slice(&bytes[..span.start]);
            out.extend_from_slice(quoted.as_bytes());
            out.extend_from_slice(&bytes[span.end..]);
            return out;
        }
        serialize_with_model(&self.map, model)
    }
}

impl Body {
    /// As [`Body::with_model`], less the top-level `drop` keys (a
    /// backend's `drop_fields`): the original bytes when none is present.
    pub fn with_model_without(&self, model: &str, drop: &[String]) -> Vec<u8> {
        if !drop.iter().any(|k| self.map.contains_key(k)) {
            return self.with_model(model);
        }
        let mut map = self.map.clone();
        for k in drop {
            map.remove(k);
        }
        serialize_with_model(&map, model)
    }
}

impl From<Map<String, Value>> for Body {
    fn from(map: Map<String, Value>) -> Body {
        Body { map, raw: None }
    }
}

/// Serialises `map` with its `model` replaced, without copying the map
/// first.
fn serialize_with_model(map: &Map<String, Value>, model: &str) -> Vec<u8> {
    struct WithModel<'a>(&'a Map<String, Value>, &'a str);
    impl serde::Serialize for WithModel<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in self.0 {
                if k == "model" {
                    m.serialize_entry(k, self.1)?;
                } else {
                    m.serialize_entry(k, v)?;
                }
            }
            m.end()
        }
    }
    let mut out = Vec::with_capacity(256);
    // Serialising a JSON map of JSON values into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, &WithModel(map, model));
    out
}

/// The top level: an object (its map and the raw `model` value, if any),
/// or `None` for any other JSON value.
struct TopVisitor;

type Top<'de> = Option<(Map<String, Value>, Option<&'de RawValue>)>;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Top<'de>, A::Error> {
        let mut map = Map::new();
        let mut model = None;
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let value = if key == "model" {
                let raw: &'de RawValue = access.next_value()?;
                model = Some(raw);
                let mut inner = serde_json::Deserializer::from_str(raw.get());
                Strict.deserialize(&mut inner).map_err(de::Error::custom)?
            } else {
                access.next_value_seed(Strict)?
            };
            map.insert(key, value);
        }
        Ok(Some((map, model)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Top<'de>, A::Error> {
        while access.next_element_seed(Strict)?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Top<'de>, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Top<'de>, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Top<'de>, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Top<'de>, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Top<'de>, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Top<'de>, E> {
        Ok(None)
    }
}

/// Any JSON value, as serde_json's `Value` reads it, but an object with a
/// key twice is an error.
#[derive(Clone, Copy)]
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity; serde_json never hands one over.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
        while let Some(v) = access.next_element_seed(Strict)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let value = access.next_value_seed(Strict)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Body {
        Body::parse(s.as_bytes()).expect("valid")
    }

    #[test]
    fn splices_model_into_the_original_bytes() {
        let b = parse(
            r#"{ "messages" : [{"role":"user","content":"h\u00e9 \"x\""}], "model" : "auto" ,"n":1.50}"#,
        );
        let out = String::from_utf8(b.with_model("m\"1")).expect("utf8");
        assert_eq!(
            out,
            r#"{ "messages" : [{"role":"user","content":"h\u00e9 \"x\""}], "model" : "m\"1" ,"n":1.50}"#
        );
        // The spliced bytes parse to the map with the new model.
        let back: Value = serde_json::from_str(&out).expect("json");
        let mut want = Value::Object(b.map.clone());
        want["model"] = Value::String("m\"1".into());
        assert_eq!(back, want);
    }

    #[test]
    fn an_edited_body_is_serialised_from_the_map() {
        let mut b = parse(r#"{"model":"auto","messages":[{"role":"user","content":"secret"}]}"#);
        b.map_mut()["messages"][0]["content"] = Value::String("<X_1>".into());
        let out = String::from_utf8(b.with_model("m")).expect("utf8");
        assert!(!out.contains("secret"), "{out}");
        assert_eq!(
            out,
            r#"{"messages":[{"content":"<X_1>","role":"user"}],"model":"m"}"#
        );
        // A clone of an edited body stays edited.
        assert!(
            !String::from_utf8(b.clone().with_model("m"))
                .expect("utf8")
                .contains("secret")
        );
    }

    #[test]
    fn without_a_model_the_map_is_serialised() {
        let b = parse(r#"{"input":"x"}"#);
        assert!(b.raw.is_none());
        assert_eq!(b.with_model("m"), br#"{"input":"x"}"#.to_vec());
    }

    #[test]
    fn dropped_fields_are_left_out_and_absent_ones_keep_the_bytes() {
        let b = parse(r#"{"model":"a", "stream_options":{"include_usage":true},"user":"u"}"#);
        let drop = vec!["stream_options".to_owned(), "seed".to_owned()];
        let v: Value = serde_json::from_slice(&b.with_model_without("m", &drop)).expect("json");
        assert_eq!(v, serde_json::json!({"model": "m", "user": "u"}));
        let none = vec!["seed".to_owned()];
        assert_eq!(b.with_model_without("m", &none), b.with_model("m"));
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for body in [
            r#"{"model":"a","model":"b"}"#,
            r#"{"messages":[],"model":"a","messages":[{"role":"user","content":"x"}]}"#,
            r#"{"model":"a","messages":[{"role":"user","content":"x","content":"y"}]}"#,
            r#"{"model":"a","x":[[{"k":1,"k":2}]]}"#,
        ] {
            match Body::parse(body.as_bytes()) {
                Err(BodyError::Json(e)) => assert!(e.to_string().contains("duplicate key"), "{e}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn parses_like_serde_json_values() {
        let text = r#"{"model":{"x":[1,-2,3.5,1e400,null,true,"s"]},"big":18446744073709551615,"neg":-9223372036854775808}"#;
        match Body::parse(text.as_bytes()) {
            // 1e400 overflows f64: serde_json refuses it, and so do we.
            Err(BodyError::Json(e)) => {
                assert!(e.to_string().contains("number out of range"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        let text = r#"{"model":{"x":[1,-2,3.5,null,true,"s"]},"big":18446744073709551615,"neg":-9223372036854775808}"#;
        let want: Value = serde_json::from_str(text).expect("json");
        assert_eq!(Value::Object(parse(text).map), want);
    }

    #[test]
    fn non_objects_and_bad_json_are_told_apart() {
        for text in ["[1,2]", "1", "\"s\"", "null", "true"] {
            assert!(
                matches!(Body::parse(text.as_bytes()), Err(BodyError::NotObject)),
                "{text}"
            );
        }
        for text in ["{", "{\"a\":1} x", "{\"a\":\"\\ud800\"}", ""] {
            assert!(
                matches!(Body::parse(text.as_bytes()), Err(BodyError::Json(_))),
                "{text}"
            );
        }
        assert!(matches!(
            Body::parse(b"{\"model\":\"\xff\"}"),
            Err(BodyError::Json(_))
        ));
    }
}
