//! PLACEHOLDER until the conversion module lands.
use super::ConvertError;
use serde_json::{Map, Value};
fn todo() -> ConvertError {
    ConvertError::Upstream { message: "not yet".into() }
}
pub fn chat_request(_b: &Map<String, Value>, _m: &str) -> Result<Value, ConvertError> { Err(todo()) }
pub fn chat_response(_r: &Value, _i: &str, _c: u64, _m: &str) -> Result<Value, ConvertError> { Err(todo()) }
pub struct ChatStream;
impl ChatStream {
    pub fn new(_i: &str, _c: u64, _m: &str, _u: bool) -> Self { ChatStream }
    pub fn push_line(&mut self, _l: &[u8]) -> Result<Vec<Value>, ConvertError> { Err(todo()) }
    pub fn is_done(&self) -> bool { false }
}
pub fn embed_request(_b: &Map<String, Value>, _m: &str) -> Result<Value, ConvertError> { Err(todo()) }
pub fn embed_response(_r: &Value, _m: &str) -> Result<Value, ConvertError> { Err(todo()) }
pub fn tags_models(_r: &Value) -> Result<Vec<String>, ConvertError> { Err(todo()) }
