//! The shipped `config/airlock.toml` on the common cases: one realistic
//! request each, and the tier the default policy must choose (the table in
//! the README). Decisions only (`assess_chat`, as `explain` does); the
//! backends are treated as reachable.

use airlock::classify::sensitivity::Scanner;
use airlock::config::BackendId;
use airlock::pipeline::{Caller, assess_chat, explain_json};
use airlock::route::BackendState;
use serde_json::json;

const SHIPPED: &str = include_str!("../../config/airlock.toml");

const PATIENT: &str = "Summarise this discharge note for the care team in five bullet points.\n\
Patient: Maria Gonzalez, DOB 04/12/1958, MRN: 00482913.\n\
Admitted with community-acquired pneumonia; history of type 2 diabetes and hypertension. \
Treated with ceftriaxone and azithromycin; HbA1c 8.2%. Discharged on metformin and lisinopril.";

const SUPPORT: &str = "Draft a friendly reply to a customer who says their order arrived two days \
late and the box was damaged. Apologise, offer a replacement or a refund, and keep it under 120 words.";

const CODE: &str = "Review this code for bugs and suggest fixes:\n```java\npackage com.acme.billing;\n\n\
import java.util.List;\n\npublic class Ledger {\n    private long total;\n    \
public void add(List<Long> items) {\n        for (long i : items) { total += i; }\n    }\n}\n```";

const MARKET: &str = "Synthesise the public market research below into a strategy memo. Compare the \
growth of the electric-vehicle market in Europe, China and the United States from 2019 to 2024, \
analyse the drivers and the risks step by step, evaluate three entry strategies for a mid-size \
battery supplier, and recommend one, explaining the trade-offs.\n1. Europe: sales grew from 0.6m to 3.2m units.\n\
2. China: from 1.2m to 11m units.\n3. United States: from 0.3m to 1.6m units.";

const INVOICE: &str = "Extract the invoice number, due date, total and payment details as JSON:\n\
Invoice INV-2024-0117, due 2024-03-31, total EUR 4,210.00. Pay to ACME GmbH, \
IBAN DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX.";

const LEGAL: &str = "PRIVILEGED & CONFIDENTIAL - ATTORNEY WORK PRODUCT\n\
Analyse in depth our exposure in the pending breach-of-contract claim by our former distributor. \
Evaluate each defence step by step, compare settling now with going to trial, assess the risks \
and the implications for the other distribution agreements, and derive a recommended strategy.";

const REVIEW: &str = "Classify the sentiment of this product review as positive, negative or \
neutral: \"Battery life is great, but the screen scratches far too easily.\"";

const BRIEFING: &str = "Draft a one-page executive briefing for our CEO on the obligations the \
EU AI Act places on providers of general-purpose AI models, based on the public text: key dates, \
the main obligations, and what they mean for a company like ours.";

const NEWS: &str = "What are today's top headlines about the stock market, and what is the \
current price of Brent crude?";

#[test]
fn the_shipped_policy_routes_the_common_cases() {
    // An operator marks the organisation's code; everything else is as shipped.
    let toml = SHIPPED.replace("code_markers = []", "code_markers = [\"com.acme.\"]");
    let config = airlock::config::from_toml_str(&toml, &|v| {
        (v == "OPENAI_API_KEY").then(|| "sk-test".to_owned())
    })
    .expect("shipped config is valid")
    .config;
    let scanner = Scanner::with_options(&config.scan);
    let state = |_: BackendId| BackendState::Up;
    let cases = [
        ("summarise a patient's medical record", PATIENT, "local"),
        ("draft a customer-support reply", SUPPORT, "public_cloud"),
        ("review proprietary source code", CODE, "local"),
        ("synthesise public market research", MARKET, "public_cloud"),
        (
            "extract fields from an invoice with account numbers",
            INVOICE,
            "local",
        ),
        (
            "analyse a privileged legal matter in depth",
            LEGAL,
            "private_cloud",
        ),
        ("sentiment of a short review", REVIEW, "local"),
        (
            "draft an executive briefing from public facts",
            BRIEFING,
            "public_cloud",
        ),
        ("ask for today's news or prices", NEWS, "public_cloud"),
    ];
    let mut wrong = Vec::new();
    for (case, text, tier) in cases {
        let body = json!({"model": "auto", "messages": [{"role": "user", "content": text}]});
        let req = airlock::openai::ChatRequest::parse(&serde_json::to_vec(&body).expect("json"))
            .expect("valid request");
        let a = assess_chat(&config, &scanner, &req, &Caller::default(), &state);
        let doc = explain_json(&config, &a);
        if doc["decision"]["tier"] != tier {
            wrong.push(format!(
                "{case}: expected {tier}, got {} (rule {}, level {}, task {}, score {})",
                doc["decision"]["tier"],
                doc["rule"],
                doc["sensitivity"]["level"],
                doc["complexity"]["task"],
                doc["complexity"]["score"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
