//! PLACEHOLDER until the detector module lands: same API, email only.
use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Email,
}
impl Kind {
    pub const ALL: [Kind; 1] = [Kind::Email];
    pub fn as_str(self) -> &'static str {
        "email"
    }
    pub fn category(self) -> Category {
        Category::Pii
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Pii,
    Phi,
    Financial,
    Secret,
    Code,
    Legal,
    Custom,
}
impl Category {
    pub const ALL: [Category; 7] = [
        Category::Pii,
        Category::Phi,
        Category::Financial,
        Category::Secret,
        Category::Code,
        Category::Legal,
        Category::Custom,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Pii => "pii",
            Category::Phi => "phi",
            Category::Financial => "financial",
            Category::Secret => "secret",
            Category::Code => "code",
            Category::Legal => "legal",
            Category::Custom => "custom",
        }
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}
pub struct Scanner {
    email: Regex,
}
impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}
impl Scanner {
    pub fn new() -> Scanner {
        Scanner {
            email: Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").expect("static"),
        }
    }
    pub fn scan(&self, text: &str, out: &mut Vec<Match>) {
        for m in self.email.find_iter(text) {
            out.push(Match {
                kind: Kind::Email,
                start: m.start(),
                end: m.end(),
            });
        }
    }
}
