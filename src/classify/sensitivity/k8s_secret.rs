//! Kubernetes Secret manifests: every value under a `data:` or `stringData:`
//! key, in text that declares `kind: Secret`. The values are base64 (or
//! plain text) of credentials, so they count whatever their entropy; block
//! scalars (`|`, `>`) count as one finding.
//!
//! Must not: fire on `data:` keys of a YAML document that does not declare
//! `kind: Secret` (ConfigMaps, JSON payloads, data URIs), or on empty and
//! templated values
//! (`''`, `{{ x }}`, `${X}`).

use super::{Kind, Match};

/// Literal the keyword pass looks for (also matches `stringData:`).
pub(super) const LITERAL: &str = "data:";

/// Per-scan state: the YAML document last looked at (`start..end` and
/// whether it declares a Secret), and where the last `data:` block ended.
#[derive(Debug, Default)]
pub(super) struct State {
    doc: Option<(usize, usize, bool)>,
    done: usize,
}

impl State {
    /// Whether the YAML document (split at `---` lines) holding `at`
    /// declares `kind: Secret`. Documents are disjoint and cached, so a
    /// scan reads each at most once.
    fn in_secret_doc(&mut self, b: &[u8], at: usize) -> bool {
        if let Some((s, e, secret)) = self.doc
            && (s..e).contains(&at)
        {
            return secret;
        }
        let is_sep = |w: &[u8]| w == b"\n---";
        let start = b[..at].windows(4).rposition(is_sep).map_or(0, |p| p + 1);
        let end = b[at..]
            .windows(4)
            .position(is_sep)
            .map_or(b.len(), |p| at + p);
        let secret = declares_secret(&b[start..end]);
        self.doc = Some((start, end, secret));
        secret
    }
}

/// `kind: Secret`, `kind: "secret"`, `kind: 'Secret'` anywhere in the text.
fn declares_secret(b: &[u8]) -> bool {
    b.windows(5).enumerate().any(|(i, w)| {
        if !w.eq_ignore_ascii_case(b"kind:") || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            return false;
        }
        let mut j = i + 5;
        while j < b.len() && matches!(b[j], b' ' | b'\t' | b'"' | b'\'') {
            j += 1;
        }
        let word = b.get(j..j + 6).unwrap_or_default();
        let after = b.get(j + 6).copied();
        word.eq_ignore_ascii_case(b"secret") && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// One line: `(start, content start, end)`, without the line break.
fn line_at(b: &[u8], start: usize) -> (usize, usize, usize) {
    let end = b[start..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| start + p);
    let end = if end > start && b[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    let content = start
        + b[start..end]
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
    (start, content, end)
}

fn next_line(b: &[u8], end: usize) -> usize {
    b[end..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| end + p + 1)
}

/// Handles the `data:` found at `start..end`.
pub(super) fn check(text: &str, start: usize, end: usize, state: &mut State, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    if start < state.done || !state.in_secret_doc(b, start) {
        return;
    }
    let line_start = b[..start]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |p| p + 1);
    let (_, key_at, line_end) = line_at(b, line_start);
    let key = &b[key_at..start];
    if !(key.is_empty() || key.eq_ignore_ascii_case(b"string"))
        || b[end..line_end].iter().any(|c| !c.is_ascii_whitespace())
    {
        return;
    }
    let indent = key_at - line_start;
    let mut pos = next_line(b, line_end);
    while pos < b.len() {
        let (ls, content, le) = line_at(b, pos);
        if content == le {
            pos = next_line(b, le);
            continue;
        }
        if content - ls <= indent {
            break;
        }
        pos = next_line(b, le);
        let line = &b[content..le];
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        let value_at =
            content + colon + 1 + line[colon + 1..].iter().take_while(|&&c| c == b' ').count();
        let value = &b[value_at..le];
        if matches!(value.first(), Some(b'|' | b'>')) {
            let (block_end, next) = block(b, pos, content - ls);
            if block_end > pos {
                push(out, pos, block_end, b);
            }
            pos = next;
        } else {
            push(out, value_at, le, b);
        }
    }
    state.done = pos;
}

/// The lines indented deeper than `indent` from `pos`: `(end of the last
/// such line, start of the first line after them)`.
fn block(b: &[u8], mut pos: usize, indent: usize) -> (usize, usize) {
    let mut end = pos;
    while pos < b.len() {
        let (ls, content, le) = line_at(b, pos);
        if content < le && content - ls <= indent {
            break;
        }
        if content < le {
            end = le;
        }
        pos = next_line(b, le);
    }
    (end, pos)
}

/// Appends `start..end` (quotes and the block's leading blanks trimmed) if
/// it holds a real value.
fn push(out: &mut Vec<Match>, mut start: usize, mut end: usize, b: &[u8]) {
    while start < end && b[start].is_ascii_whitespace() {
        start += 1;
    }
    if end > start + 1 && matches!(b[start], b'"' | b'\'') && b[end - 1] == b[start] {
        start += 1;
        end -= 1;
    }
    let v = &b[start..end];
    let templated = v.starts_with(b"{{") || v.starts_with(b"${") || v.starts_with(b"<");
    if v.len() >= 4 && !templated {
        out.push(Match {
            kind: Kind::Secret,
            start,
            end,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::spans;
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  key: bXlwYXNzd29yZA==\n  user: YWRtaW4=\ntype: Opaque",
                &["bXlwYXNzd29yZA==", "YWRtaW4="],
            ),
            (
                "kind: 'Secret'\ndata:\n\textra: 'YWRtaW46cGFzc3dvcmQ='\n",
                &["YWRtaW46cGFzc3dvcmQ="],
            ),
            (
                "kind: Secret\ndata:\n  .dockercfg: |\n    eyJhdXRocyI6e30K\n    eyJhdXRocyI6e31K\nmetadata:\n  name: x",
                &["eyJhdXRocyI6e30K\n    eyJhdXRocyI6e31K"],
            ),
            (
                "kind: Secret\nstringData:\n  password: hunter22\n",
                &["hunter22"],
            ),
            (
                "kind: ConfigMap\ndata:\n  app.conf: bXlwYXNzd29yZA==\n",
                &[],
            ),
            (
                "kind: SopsSecret\ndata:\n  app.conf: bXlwYXNzd29yZA==\n",
                &[],
            ),
            ("kind: Secret\ndata:\n  htpasswd: ''\n  b: {{ x }}\n", &[]),
            ("kind: Secret\nmeta: {data: x}\n", &[]),
            (
                "kind: Secret\n---\nkind: ConfigMap\ndata:\n  app.conf: bXlwYXNzd29yZA==\n",
                &[],
            ),
            (
                "kind: ConfigMap\n---\nkind: Secret\ndata:\n  app.conf: bXlwYXNzd29yZA==\n",
                &["bXlwYXNzd29yZA=="],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&spans(text, Kind::Secret), want, "{text}");
        }
    }
}
