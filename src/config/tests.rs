use super::*;

const BASE: &str = r#"
[server]
listen = "127.0.0.1:8080"

[[backends]]
name = "ollama"
protocol = "ollama"
base_url = "http://127.0.0.1:11434"
tier = "local"
models = ["llama3.1:8b"]

[[backends]]
name = "openai"
protocol = "openai"
base_url = "https://api.openai.com/v1"
api_key_env = "OPENAI_API_KEY"
tier = "public_cloud"
models = ["gpt-4o", "gpt-4o-mini"]

[pools]
local = ["ollama/llama3.1:8b"]
frontier = ["openai/gpt-4o"]

[[rules]]
name = "complex-to-frontier"
when = { complexity_at_least = 0.6 }
pool = "frontier"

[[rules]]
name = "default"
pool = "local"
"#;

fn with_key(var: &str) -> Option<String> {
    (var == "OPENAI_API_KEY").then(|| "sk-test".to_owned())
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn errors(toml: &str) -> Vec<String> {
    match from_toml_str(toml, &with_key) {
        Ok(_) => Vec::new(),
        Err(issues) => issues.iter().map(|i| i.to_string()).collect(),
    }
}

fn assert_error(toml: &str, key: &str, contains: &str) {
    let errs = errors(toml);
    assert!(
        errs.iter()
            .any(|e| e.starts_with(&format!("{key}: ")) && e.contains(contains)),
        "expected an error at {key} containing {contains:?}, got {errs:#?}"
    );
}

#[test]
fn base_config_loads_with_defaults() {
    let loaded = from_toml_str(BASE, &with_key).expect("valid");
    let c = loaded.config;
    assert_eq!(c.backends.len(), 2);
    assert_eq!(c.pools.len(), 2);
    assert_eq!(c.rules.len(), 2);
    assert_eq!(c.policy.on_violation, OnViolation::Reroute);
    assert_eq!(c.policy.unscannable, Level::Confidential);
    assert_eq!(c.server.max_body_bytes, 10 * 1024 * 1024);
    assert!(
        c.policy
            .allowed_tiers(Level::Restricted)
            .contains(Tier::Local)
    );
    assert!(
        !c.policy
            .allowed_tiers(Level::Restricted)
            .contains(Tier::PublicCloud)
    );
    assert!(c.backends[1].is_configured());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn missing_key_is_a_warning_and_unconfigured() {
    let loaded = from_toml_str(BASE, &no_env).expect("still valid");
    assert!(!loaded.config.backends[1].is_configured());
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.key == "backends[1]" && w.message.contains("OPENAI_API_KEY")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn unknown_keys_are_named() {
    let toml = BASE.replace("[server]", "[server]\nlisten_port = 1");
    assert_error(&toml, "server.listen_port", "unknown field");
    let toml = format!("{BASE}\n[extra]\nx = 1\n");
    assert_error(&toml, "extra", "unknown field");
    let toml = BASE.replace("tier = \"local\"", "tier = \"local\"\napi_key = \"sk-x\"");
    assert_error(&toml, "backends.0.api_key", "unknown field");
}

#[test]
fn unknown_pool_and_backend_are_named() {
    let toml = BASE.replace("pool = \"frontier\"", "pool = \"nope\"");
    assert_error(&toml, "rules[0].pool", "unknown pool \"nope\"");
    let toml = BASE.replace("\"openai/gpt-4o\"]", "\"azure/gpt-4o\"]");
    assert_error(&toml, "pools.frontier[0]", "unknown backend \"azure\"");
    let toml = BASE.replace("\"openai/gpt-4o\"]", "\"openai/gpt-5\"]");
    assert_error(&toml, "pools.frontier[0]", "does not list model \"gpt-5\"");
}

#[test]
fn bad_urls_are_named() {
    let toml = BASE.replace("http://127.0.0.1:11434", "not a url");
    assert_error(&toml, "backends[0].base_url", "not a valid URL");
    let toml = BASE.replace("http://127.0.0.1:11434", "ftp://host/x");
    assert_error(&toml, "backends[0].base_url", "http or https");
}

#[test]
fn level_with_no_tier_is_an_error() {
    let toml = format!("{BASE}\n[policy.levels]\nrestricted = []\n");
    assert_error(&toml, "policy.levels.restricted", "maps to no tier");
}

#[test]
fn higher_level_may_not_reach_more_than_lower() {
    let toml = format!(
        "{BASE}\n[policy.levels]\nconfidential = [\"local\"]\nrestricted = [\"local\", \"public_cloud\"]\n"
    );
    assert_error(&toml, "policy.levels.restricted", "public_cloud");
}

#[test]
fn unknown_tier_level_protocol_task() {
    assert_error(
        &BASE.replace("tier = \"local\"", "tier = \"edge\""),
        "backends[0].tier",
        "unknown tier",
    );
    assert_error(
        &BASE.replace("protocol = \"ollama\"", "protocol = \"grpc\""),
        "backends[0].protocol",
        "unknown protocol",
    );
    assert_error(
        &BASE.replace(
            "complexity_at_least = 0.6",
            "sensitivity_at_least = \"secret\"",
        ),
        "rules[0].when.sensitivity_at_least",
        "unknown sensitivity level",
    );
    assert_error(
        &BASE.replace("complexity_at_least = 0.6", "task = [\"poetry\"]"),
        "rules[0].when.task[0]",
        "unknown task",
    );
    assert_error(
        &BASE.replace("complexity_at_least = 0.6", "complexity_at_least = 1.5"),
        "rules[0].when.complexity_at_least",
        "outside 0..1",
    );
}

#[test]
fn wrong_type_names_the_key() {
    let toml = BASE.replace("listen = \"127.0.0.1:8080\"", "listen = 8080");
    assert_error(&toml, "server.listen", "invalid type");
}

#[test]
fn non_loopback_without_keys_needs_opt_in() {
    let toml = BASE.replace("127.0.0.1:8080", "0.0.0.0:8080");
    assert_error(&toml, "server.listen", "allow_unauthenticated");
    let toml = toml.replace("[server]", "[server]\nallow_unauthenticated = true");
    assert!(errors(&toml).is_empty(), "{:?}", errors(&toml));
}

#[test]
fn on_violation_values() {
    let toml =
        format!("{BASE}\n[policy]\non_violation = \"redact\"\nnever_redact = [\"private_key\"]\n");
    let c = from_toml_str(&toml, &with_key).expect("valid").config;
    assert_eq!(c.policy.on_violation, OnViolation::Redact);
    assert_eq!(c.policy.never_redact.len(), 1);
    let toml = format!("{BASE}\n[policy]\non_violation = \"drop\"\n");
    assert_error(&toml, "policy.on_violation", "unknown value");
    let toml = format!("{BASE}\n[policy]\nnever_redact = [\"nope\"]\n");
    assert_error(&toml, "policy.never_redact[0]", "unknown kind");
}

#[test]
fn many_errors_are_all_reported() {
    let toml = BASE
        .replace("pool = \"frontier\"", "pool = \"nope\"")
        .replace("http://127.0.0.1:11434", "nope");
    assert!(errors(&toml).len() >= 2, "{:?}", errors(&toml));
}

#[test]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail's closure signature fixes the error type"
)]
fn env_override_nests_with_double_underscore() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("airlock.toml", BASE)?;
        jail.set_env("AIRLOCK_SERVER__LISTEN", "127.0.0.1:9999");
        jail.set_env("AIRLOCK_POLICY__ON_VIOLATION", "reject");
        jail.set_env("AIRLOCK_CACHE", "/not/config");
        jail.set_env("OPENAI_API_KEY", "sk-x");
        let loaded = load(Path::new("airlock.toml")).map_err(|e| format!("{e:?}"))?;
        assert_eq!(loaded.config.server.listen.port(), 9999);
        assert_eq!(loaded.config.policy.on_violation, OnViolation::Reject);
        Ok(())
    });
}

#[test]
fn shipped_default_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/airlock.toml");
    let text = std::fs::read_to_string(path).expect("config/airlock.toml exists");
    let loaded = from_toml_str(&text, &with_key).expect("shipped config is valid");
    assert!(loaded.config.backends.iter().any(|b| b.tier == Tier::Local));
}

#[test]
fn kinds_allow_list_and_custom_detectors() {
    let dir = tempfile::tempdir().expect("tmp");
    let list = dir.path().join("codenames.txt");
    std::fs::write(&list, "# project names\nBluebird\nRed Falcon\n").expect("write");
    let toml = format!(
        r#"{BASE}
[policy]
allow_kinds = ["phone"]
[policy.kinds]
email = "restricted"
codenames = "restricted"

[[detectors.custom]]
name = "codenames"
level = "internal"
word_list_file = "{}"

[[detectors.custom]]
name = "tickets"
level = "confidential"
category = "code"
keywords = ["ACME-INTERNAL"]
regexes = ['\bTKT-\d{{5}}\b']
"#,
        list.display()
    );
    let c = from_toml_str(&toml, &with_key).expect("valid").config;
    use crate::classify::sensitivity::Kind;
    assert_eq!(c.policy.kind_level(Kind::Email), Level::Restricted);
    assert_eq!(c.policy.kind_level(Kind::Phone), Level::Public);
    assert_eq!(c.detectors.len(), 2);
    assert_eq!(
        c.detectors[0].level,
        Level::Restricted,
        "[policy.kinds] overrides"
    );
    let mut spans = Vec::new();
    c.detectors[0].find("the red falcon and bluebirds fly", &mut spans);
    assert_eq!(spans, vec![(4, 14)], "whole words, case-insensitive");
    spans.clear();
    c.detectors[1].find("see TKT-12345 and acme-internal", &mut spans);
    assert_eq!(spans.len(), 2);
}

#[test]
fn bad_detectors_are_named() {
    let bad = |extra: &str| format!("{BASE}\n{extra}");
    assert_error(
        &bad("[detectors]\ncode_markers = [\"acme.internal\", \" x \"]"),
        "detectors.code_markers[1]",
        "at least 3 characters",
    );
    assert_error(
        &bad("[[detectors.custom]]\nname = \"x\"\nlevel = \"internal\"\nregexes = ['(']"),
        "detectors.custom[0].regexes[0]",
        "invalid regex",
    );
    assert_error(
        &bad("[[detectors.custom]]\nname = \"x\"\nlevel = \"internal\"\nregexes = ['a*']"),
        "detectors.custom[0].regexes[0]",
        "empty string",
    );
    assert_error(
        &bad("[[detectors.custom]]\nname = \"x\"\nlevel = \"internal\""),
        "detectors.custom[0]",
        "needs keywords",
    );
    assert_error(
        &bad(
            "[[detectors.custom]]\nname = \"x\"\nlevel = \"internal\"\nword_list_file = \"/nope/none.txt\"",
        ),
        "detectors.custom[0].word_list_file",
        "cannot read",
    );
    assert_error(
        &bad("[[detectors.custom]]\nname = \"email\"\nlevel = \"internal\"\nkeywords = [\"a\"]"),
        "detectors.custom[0].name",
        "already",
    );
    assert_error(
        &bad("[policy.kinds]\nnot_a_kind = \"restricted\""),
        "policy.kinds.not_a_kind",
        "unknown kind",
    );
    assert_error(
        &bad("[policy]\nallow_kinds = [\"bogus\"]"),
        "policy.allow_kinds[0]",
        "unknown kind",
    );
}

#[test]
fn state_section_is_checked_without_printing_the_url() {
    let errs = errors(&format!(
        "{BASE}\n[state]\nredis_url = \"http://u:hunter2@cache:6379\"\ntimeout_ms = 0\nkey_prefix = \"a b\""
    ));
    for key in ["state.redis_url", "state.timeout_ms", "state.key_prefix"] {
        assert!(
            errs.iter().any(|e| e.starts_with(&format!("{key}: "))),
            "{key} in {errs:#?}"
        );
    }
    assert!(errs.iter().all(|e| !e.contains("hunter2")), "{errs:#?}");
    let c = from_toml_str(
        &format!("{BASE}\n[state]\nredis_url = \"redis://:hunter2@127.0.0.1:6379/0\""),
        &with_key,
    )
    .expect("valid")
    .config;
    assert!(c.state.redis_url.is_some());
    assert!(!format!("{:?}", c.state).contains("hunter2"));
}

#[test]
fn metrics_section_is_checked_and_defaults_open() {
    let c = from_toml_str(BASE, &no_env).expect("valid").config;
    assert!(c.metrics.enabled && c.metrics.token.is_none());
    // A declared token that cannot be read never leaves /metrics open.
    assert_error(
        &format!("{BASE}\n[metrics]\ntoken_env = \"NOPE\""),
        "metrics.token_env",
        "NOPE",
    );
    let c = from_toml_str(
        &format!("{BASE}\n[metrics]\ntoken_env = \"OPENAI_API_KEY\""),
        &with_key,
    )
    .expect("valid")
    .config;
    assert!(c.metrics.token.is_some());
    let c = from_toml_str(
        &format!("{BASE}\n[metrics]\nenabled = false\ntoken_env = \"NOPE\""),
        &no_env,
    )
    .expect("off: the token is not needed")
    .config;
    assert!(!c.metrics.enabled);
}

#[test]
fn capabilities_are_checked_and_default_by_tier() {
    let toml = BASE.replace(
        "models = [\"llama3.1:8b\"]",
        "models = [\"llama3.1:8b\", \"llava\"]\ncontext_window = 100\n\
         capabilities.llava = { modalities = [\"text\", \"video\"] }\n\
         capabilities.\"gpt-9\" = { tools = false }",
    );
    assert_error(&toml, "backends[0].context_window", "too small");
    assert_error(
        &toml,
        "backends[0].capabilities.\"llava\".modalities[1]",
        "unknown modality",
    );
    assert_error(
        &toml,
        "backends[0].capabilities.\"gpt-9\"",
        "not in backends[0].models",
    );
    let toml = BASE.replace(
        "models = [\"llama3.1:8b\"]",
        "models = [\"llama3.1:8b\", \"llava\"]\ncapabilities.llava = { modalities = [\"text\", \"image\"], context_window = 4096 }",
    );
    let c = from_toml_str(&toml, &with_key).expect("valid").config;
    let local = &c.backends[0];
    assert!(!local.caps_of("llama3.1:8b").images);
    assert_eq!(local.caps_of("llama3.1:8b").context_window, 8192);
    let llava = local.caps_of("llava");
    assert!(llava.images && llava.context_window == 4096 && llava.tools);
    let cloud = c.backends[1].caps_of("gpt-4o");
    assert!(cloud.images && cloud.json_schema && cloud.context_window == 128_000);
}

const ANTHROPIC: &str = r#"
[[backends]]
name = "claude"
protocol = "anthropic"
base_url = "https://api.anthropic.com/"
api_key_env = "OPENAI_API_KEY"
tier = "public_cloud"
models = ["claude-sonnet-4-5"]
"#;

#[test]
fn anthropic_protocol_and_its_max_tokens_default() {
    let loaded = from_toml_str(&format!("{BASE}{ANTHROPIC}"), &with_key).expect("valid");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let b = &loaded.config.backends[2];
    assert_eq!(b.protocol, Protocol::Anthropic);
    assert_eq!(b.protocol.as_str(), "anthropic");
    assert_eq!(b.base_url, "https://api.anthropic.com");
    assert_eq!(b.default_max_tokens, DEFAULT_MAX_TOKENS);
    assert_eq!(DEFAULT_MAX_TOKENS, 4096);
    assert!(b.caps.images && b.caps.tools);
    assert!(
        !b.caps.json_schema,
        "Anthropic cannot honour response_format"
    );
    assert!(loaded.config.backends[1].caps.json_schema, "OpenAI can");

    let toml = format!("{BASE}{ANTHROPIC}default_max_tokens = 1024\n");
    let loaded = from_toml_str(&toml, &with_key).expect("valid");
    assert_eq!(loaded.config.backends[2].default_max_tokens, 1024);
    assert_error(
        &format!("{BASE}{ANTHROPIC}default_max_tokens = 0\n"),
        "backends[2].default_max_tokens",
        "at least 1",
    );
    // Set where it means nothing, or json_schema promised: warnings.
    let toml = BASE.replace(
        "models = [\"llama3.1:8b\"]",
        "models = [\"llama3.1:8b\"]\ndefault_max_tokens = 100",
    );
    let warnings = from_toml_str(&toml, &with_key).expect("valid").warnings;
    assert!(
        warnings
            .iter()
            .any(|w| w.key == "backends[0].default_max_tokens"),
        "{warnings:?}"
    );
    let toml = format!("{BASE}{ANTHROPIC}json_schema = true\n");
    let warnings = from_toml_str(&toml, &with_key).expect("valid").warnings;
    assert!(
        warnings.iter().any(|w| w.key == "backends[2].json_schema"),
        "{warnings:?}"
    );
}

#[test]
fn unknown_protocol_names_the_six() {
    let errs = errors(&BASE.replace("protocol = \"ollama\"", "protocol = \"claude\""));
    assert!(
        errs.iter().any(|e| e.starts_with("backends[0].protocol: ")
            && e.contains(
                "\"openai\", \"ollama\", \"anthropic\", \"gemini\", \"azure_openai\" or \"bedrock\""
            )),
        "{errs:#?}"
    );
}

const GEMINI: &str = r#"
[[backends]]
name = "gemini"
protocol = "gemini"
base_url = "https://generativelanguage.googleapis.com/"
tier = "public_cloud"
"#;

const VERTEX_URL: &str = "https://europe-west4-aiplatform.googleapis.com/v1/projects/acme/locations/europe-west4/publishers/google";

#[test]
fn gemini_protocol_with_an_api_key_or_a_token() {
    let toml = format!("{BASE}{GEMINI}api_key_env = \"OPENAI_API_KEY\"\n");
    let loaded = from_toml_str(&toml, &with_key).expect("valid");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let b = &loaded.config.backends[2];
    assert_eq!(b.protocol, Protocol::Gemini);
    assert_eq!(b.protocol.as_str(), "gemini");
    assert_eq!(b.base_url, "https://generativelanguage.googleapis.com");
    assert_eq!(b.auth, Auth::ApiKey);
    assert!(matches!(b.key, KeyState::Present(_)));
    assert!(b.caps.images && b.caps.tools && b.caps.json_schema);

    // Vertex AI: a token from token_env, sent as a bearer token.
    let toml = format!(
        r#"{BASE}
[[backends]]
name = "vertex"
protocol = "gemini"
base_url = "{VERTEX_URL}"
token_env = "OPENAI_API_KEY"
tier = "private_cloud"
models = ["gemini-2.5-pro"]
"#
    );
    let loaded = from_toml_str(&toml, &with_key).expect("valid");
    let b = &loaded.config.backends[2];
    assert_eq!(b.auth, Auth::Bearer);
    assert_eq!(b.tier, Tier::PrivateCloud);
    assert!(matches!(b.key, KeyState::Present(_)));
    // A missing token leaves the backend unconfigured, named in a warning.
    let loaded = from_toml_str(&toml, &no_env).expect("valid");
    assert!(matches!(
        loaded.config.backends[2].key,
        KeyState::Missing(_)
    ));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.key == "backends[2]" && w.message.contains("OPENAI_API_KEY")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn gemini_config_errors_name_their_keys() {
    assert_error(
        &format!("{BASE}{GEMINI}api_key_env = \"A\"\ntoken_env = \"B\"\n"),
        "backends[2].token_env",
        "only one of",
    );
    assert_error(
        &BASE.replace(
            "api_key_env = \"OPENAI_API_KEY\"",
            "token_env = \"OPENAI_API_KEY\"",
        ),
        "backends[1].token_env",
        "only gemini and azure_openai backends",
    );
    let vertex = GEMINI.replace("https://generativelanguage.googleapis.com/", VERTEX_URL);
    assert_error(
        &format!("{BASE}{vertex}token_env = \"OPENAI_API_KEY\"\n"),
        "backends[2].models",
        "must list its models",
    );
    // The Gemini API lists its models: none need be named.
    assert!(errors(&format!("{BASE}{GEMINI}")).is_empty());
}

#[test]
fn gateway_keys_are_kept_as_digests() {
    let toml = format!(
        "{BASE}\n[[keys]]\nname = \"a\"\nkey_env = \"OPENAI_API_KEY\"\n\n[[keys]]\nname = \"b\"\nkey_sha256 = \"{}\"\n",
        "AB".repeat(32)
    );
    let c = from_toml_str(&toml, &with_key).expect("valid");
    let key = with_key("OPENAI_API_KEY").expect("set");
    let c = c.config;
    assert_eq!(c.keys[0].digest, Some(key_sha256(key.as_bytes())));
    assert_eq!(c.keys[1].digest, Some([0xab; 32]));
    // Nothing in the config keeps the key itself.
    assert!(!format!("{:?}", c.keys).contains(&key));
    assert_error(
        &format!(
            "{BASE}\n[[keys]]\nname = \"b\"\nkey_sha256 = \"{}\"\nmax_tier = \"moon\"\n",
            "0".repeat(64)
        ),
        "keys[0].max_tier",
        "unknown tier",
    );
    assert_error(
        &format!("{BASE}\n[[keys]]\nname = \"b\"\nkey_sha256 = \"xyz\"\n"),
        "keys[0].key_sha256",
        "64 hex digits",
    );
    assert_error(
        &format!(
            "{BASE}\n[[keys]]\nname = \"b\"\nkey_env = \"K\"\nkey_sha256 = \"{}\"\n",
            "0".repeat(64)
        ),
        "keys[0].key_sha256",
        "only one of",
    );
}

const AZURE: &str = r#"
[[backends]]
name = "azure"
protocol = "azure_openai"
base_url = "https://acme.openai.azure.com/"
tier = "private_cloud"
models = ["gpt-4o-prod"]
"#;

#[test]
fn azure_openai_protocol_with_a_key_or_a_token_and_an_api_version() {
    let toml = format!("{BASE}{AZURE}api_key_env = \"OPENAI_API_KEY\"\n");
    let loaded = from_toml_str(&toml, &with_key).expect("valid");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let b = &loaded.config.backends[2];
    assert_eq!(b.protocol, Protocol::AzureOpenAi);
    assert_eq!(b.protocol.as_str(), "azure_openai");
    assert_eq!(b.base_url, "https://acme.openai.azure.com");
    assert_eq!(b.auth, Auth::ApiKey);
    assert_eq!(b.api_version, DEFAULT_AZURE_API_VERSION);

    let toml = format!(
        "{BASE}{AZURE}token_env = \"OPENAI_API_KEY\"\napi_version = \"2025-04-01-preview\"\n"
    );
    let loaded = from_toml_str(&toml, &with_key).expect("valid");
    let b = &loaded.config.backends[2];
    assert_eq!(b.auth, Auth::Bearer);
    assert_eq!(b.api_version, "2025-04-01-preview");

    // api_version on another protocol is ignored, with a warning.
    let toml = BASE.replace(
        "api_key_env = \"OPENAI_API_KEY\"",
        "api_key_env = \"OPENAI_API_KEY\"\napi_version = \"2024-10-21\"",
    );
    let loaded = from_toml_str(&toml, &with_key).expect("valid");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.key == "backends[1].api_version"),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn azure_config_errors_name_their_keys() {
    for bad in ["", "2024-10-21&x=1", "a/b"] {
        assert_error(
            &format!("{BASE}{AZURE}api_version = {bad:?}\n"),
            "backends[2].api_version",
            "is not an API version",
        );
    }
    assert_error(
        &format!("{BASE}{}", AZURE.replace("models = [\"gpt-4o-prod\"]", "")),
        "backends[2].models",
        "must list its deployment names",
    );
    assert_error(
        &format!("{BASE}{}", AZURE.replace("gpt-4o-prod", "gpt 4o/prod")),
        "backends[2].models[0]",
        "is not an Azure deployment name",
    );
}

const BEDROCK: &str = r#"
[[backends]]
name = "bedrock"
protocol = "bedrock"
tier = "private_cloud"
models = ["anthropic.claude-3-5-sonnet-20240620-v1:0"]
"#;

fn with_aws(var: &str) -> Option<String> {
    match var {
        "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".into()),
        "AWS_SECRET_ACCESS_KEY" | "MY_SECRET" => Some("secret".into()),
        "AWS_SESSION_TOKEN" => Some("token".into()),
        other => with_key(other),
    }
}

#[test]
fn bedrock_protocol_with_aws_credentials_or_an_api_key() {
    let toml = format!("{BASE}{BEDROCK}region = \"eu-west-1\"\n");
    let loaded = from_toml_str(&toml, &with_aws).expect("valid");
    let b = &loaded.config.backends[2];
    assert_eq!(b.protocol.as_str(), "bedrock");
    assert_eq!(
        b.base_url,
        "https://bedrock-runtime.eu-west-1.amazonaws.com"
    );
    assert_eq!(b.region, "eu-west-1");
    assert_eq!(b.auth, Auth::SigV4);
    assert!(matches!(b.key, KeyState::Present(_)));
    let aws = b.aws.as_ref().expect("identity");
    assert_eq!(aws.access_key_id, "AKIDEXAMPLE");
    assert!(aws.session_token.is_some());
    assert!(!b.caps.json_schema);
    // Renamed keys: AWS_SESSION_TOKEN belongs to another identity.
    let toml =
        format!("{BASE}{BEDROCK}region = \"eu-west-1\"\nsecret_access_key_env = \"MY_SECRET\"\n");
    let loaded = from_toml_str(&toml, &with_aws).expect("valid");
    let b = &loaded.config.backends[2];
    assert!(b.aws.as_ref().expect("identity").session_token.is_none());
    // No credentials in the environment: unconfigured, with a warning.
    let toml = format!("{BASE}{BEDROCK}region = \"eu-west-1\"\n");
    let loaded = from_toml_str(&toml, &with_key).expect("valid");
    assert!(matches!(
        loaded.config.backends[2].key,
        KeyState::Missing(_)
    ));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.key == "backends[2]" && w.message.contains("AWS_ACCESS_KEY_ID"))
    );
    // A Bedrock API key: a bearer token, and base_url may be set.
    let toml = format!(
        "{BASE}{BEDROCK}region = \"us-east-1\"\napi_key_env = \"OPENAI_API_KEY\"\nbase_url = \"http://127.0.0.1:9/\"\n"
    );
    let loaded = from_toml_str(&toml, &with_aws).expect("valid");
    let b = &loaded.config.backends[2];
    assert_eq!(b.auth, Auth::ApiKey);
    assert!(b.aws.is_none());
    assert_eq!(b.base_url, "http://127.0.0.1:9");
}

#[test]
fn bedrock_config_errors_name_their_key() {
    assert_error(
        &format!("{BASE}{BEDROCK}"),
        "backends[2].region",
        "needs its AWS region",
    );
    assert_error(
        &format!("{BASE}{BEDROCK}region = \"US East\"\n"),
        "backends[2].region",
        "is not an AWS region",
    );
    assert_error(
        &format!(
            "{BASE}{BEDROCK}region = \"us-east-1\"\napi_key_env = \"K\"\naccess_key_id_env = \"A\"\n"
        ),
        "backends[2].access_key_id_env",
        "not both",
    );
    assert_error(
        &format!("{BASE}{BEDROCK}region = \"us-east-1\"\ntoken_env = \"K\"\n"),
        "backends[2].token_env",
        "only gemini and azure_openai",
    );
    assert_error(
        &format!(
            "{BASE}{}region = \"us-east-1\"\n",
            BEDROCK.replace(
                "models = [\"anthropic.claude-3-5-sonnet-20240620-v1:0\"]",
                ""
            )
        ),
        "backends[2].models",
        "must list its model ids",
    );
    assert_error(
        &BASE.replace(
            "api_key_env = \"OPENAI_API_KEY\"",
            "api_key_env = \"OPENAI_API_KEY\"\nsession_token_env = \"T\"",
        ),
        "backends[1].session_token_env",
        "only bedrock backends",
    );
    assert_error(
        &BASE.replace("base_url = \"https://api.openai.com/v1\"\n", ""),
        "backends[1].base_url",
        "is required",
    );
}

#[test]
fn capacity_health_path_and_circuit_settings_are_checked() {
    let ollama = "models = [\"llama3.1:8b\"]\n";
    let with = |extra: &str| BASE.replacen(ollama, &format!("{ollama}{extra}\n"), 1);
    let c = from_toml_str(
        &with("max_concurrency = 2\nhealth_path = \"/health\""),
        &with_key,
    )
    .expect("valid")
    .config;
    assert_eq!(
        c.backends[0].capacity,
        Some(Capacity {
            max_concurrency: 2,
            max_queue: DEFAULT_MAX_QUEUE,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
        })
    );
    assert_eq!(c.backends[0].health_path.as_deref(), Some("/health"));
    assert_eq!(c.backends[1].capacity, None);
    assert_eq!(c.health.failure_threshold, 3);
    assert_eq!(c.health.open_for, Duration::from_secs(10));
    assert_error(
        &with("max_concurrency = 0"),
        "backends[0].max_concurrency",
        "must be at least 1",
    );
    assert_error(
        &with("max_concurrency = 1\nqueue_timeout_ms = 0"),
        "backends[0].queue_timeout_ms",
        "greater than 0",
    );
    for bad in ["health", "/he alth", "http://x/health"] {
        assert_error(
            &with(&format!("health_path = {bad:?}")),
            "backends[0].health_path",
            "is not a path",
        );
    }
    let loaded = from_toml_str(&with("max_queue = 4"), &with_key).expect("valid");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.to_string().starts_with("backends[0].max_queue: ")),
        "{:?}",
        loaded.warnings
    );
    assert_error(
        &format!("[health]\nfailure_threshold = 0\n{BASE}"),
        "health.failure_threshold",
        "at least 1",
    );
}

#[test]
fn key_rate_limits_are_read_and_zero_is_refused() {
    let keys = "[[keys]]\nname = \"a\"\nkey_sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n";
    let c = from_toml_str(
        &format!("{BASE}{keys}requests_per_minute = 60\ntokens_per_minute = 1000\n"),
        &with_key,
    )
    .expect("valid")
    .config;
    assert_eq!(c.keys[0].rate.requests_per_minute, Some(60));
    assert_eq!(c.keys[0].rate.tokens_per_minute, Some(1000));
    assert_error(
        &format!("{BASE}{keys}requests_per_minute = 0\n"),
        "keys[0].requests_per_minute",
        "at least 1",
    );
}

#[test]
fn backend_headers_and_drop_fields_are_checked() {
    let ollama = "models = [\"llama3.1:8b\"]\n";
    let openai = "models = [\"gpt-4o\", \"gpt-4o-mini\"]\n";
    let with = |extra: &str| BASE.replacen(openai, &format!("{openai}{extra}\n"), 1);
    let c = from_toml_str(
        &with("headers = { \"X-Title\" = \"airlock\" }\ndrop_fields = [\"user\"]"),
        &with_key,
    )
    .expect("valid")
    .config;
    assert_eq!(c.backends[1].headers.len(), 1);
    assert_eq!(c.backends[1].headers[0].0.as_str(), "x-title");
    assert_eq!(c.backends[1].drop_fields, vec!["user".to_owned()]);
    for (toml, key, says) in [
        (
            "headers = { \"Authorization\" = \"Bearer x\" }",
            "backends[1].headers.\"Authorization\"",
            "is set by airlock",
        ),
        (
            "headers = { \"bad name\" = \"x\" }",
            "backends[1].headers.\"bad name\"",
            "not a valid header name",
        ),
        (
            "headers = { \"X-Ok\" = \"line\\nbreak\" }",
            "backends[1].headers.\"X-Ok\"",
            "not a valid header value",
        ),
        (
            "drop_fields = [\"messages\"]",
            "backends[1].drop_fields[0]",
            "cannot be dropped",
        ),
    ] {
        assert_error(&with(toml), key, says);
    }
    let on_ollama = BASE.replacen(ollama, &format!("{ollama}drop_fields = [\"user\"]\n"), 1);
    let loaded = from_toml_str(&on_ollama, &with_key).expect("valid");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.to_string().starts_with("backends[0].drop_fields: ")),
        "{:?}",
        loaded.warnings
    );
}
