use super::*;

fn o(score: f64, strong: bool, weak: bool) -> Outcome {
    Outcome {
        score,
        strong,
        weak,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Four rows, strong 3/4 and weak 2/4: only the first row is a gain.
fn rows(scores: [f64; 4]) -> Vec<Outcome> {
    vec![
        o(scores[0], true, false),
        o(scores[1], true, true),
        o(scores[2], false, false),
        o(scores[3], true, true),
    ]
}

#[test]
fn perfect_router() {
    // Curve (0,0) (.25,1) (.5,1) (.75,1) (1,1): area .125 + .75.
    let m = metrics(&rows([4.0, 3.0, 2.0, 1.0])).expect("gap");
    assert!(close(m.apgr, 0.875), "{m:?}");
    assert!(close(m.cpt50, 0.125), "{m:?}");
    assert!(close(m.cpt80, 0.2), "{m:?}");
}

#[test]
fn reverse_router() {
    // The gain comes last: (0,0) (.75,0) (1,1), area .125.
    let m = metrics(&rows([1.0, 2.0, 3.0, 4.0])).expect("gap");
    assert!(close(m.apgr, 0.125), "{m:?}");
    assert!(close(m.cpt50, 0.875), "{m:?}");
    assert!(close(m.cpt80, 0.95), "{m:?}");
}

#[test]
fn all_ties_are_random() {
    // One block: the straight line from (0,0) to (1,1), whatever the order.
    let m = metrics(&rows([0.5; 4])).expect("gap");
    assert!(close(m.apgr, 0.5), "{m:?}");
    assert!(close(m.cpt50, 0.5), "{m:?}");
    assert!(close(m.cpt80, 0.8), "{m:?}");
    let mut reordered = rows([0.5; 4]);
    reordered.reverse();
    assert_eq!(metrics(&reordered), Some(m));
}

#[test]
fn ties_get_no_credit_for_storage_order() {
    // The gain row tied with one other at the top: (0,0) (.5,1) (1,1),
    // area .25 + .5 = .75, whichever of the two comes first.
    let a = metrics(&rows([2.0, 2.0, 1.0, 0.0])).expect("gap");
    let mut swapped = rows([2.0, 2.0, 1.0, 0.0]);
    swapped.swap(0, 1);
    let b = metrics(&swapped).expect("gap");
    assert!(close(a.apgr, 0.75), "{a:?}");
    assert_eq!(a, b);
    assert!(close(a.cpt50, 0.25), "{a:?}");
}

#[test]
fn a_loss_dips_the_curve_below_zero() {
    // Strong 1/3, weak 0/3 plus a row only the weak model gets: gap 1.
    let v = vec![
        o(3.0, false, true),
        o(2.0, true, false),
        o(1.0, true, false),
    ];
    let c = curve(&v).expect("gap");
    assert_eq!(
        c,
        vec![(0.0, 0.0), (1.0 / 3.0, -1.0), (2.0 / 3.0, 0.0), (1.0, 1.0)]
    );
    let m = metrics(&v).expect("gap");
    // Areas: -1/6, -1/6, +1/6.
    assert!(close(m.apgr, -1.0 / 6.0), "{m:?}");
    assert!(close(m.cpt50, 2.0 / 3.0 + 0.5 / 3.0), "{m:?}");
}

#[test]
fn no_gap_or_no_rows_is_undefined() {
    assert_eq!(metrics(&[]), None);
    assert_eq!(metrics(&[o(1.0, true, true), o(0.0, false, false)]), None);
}

#[test]
fn fnv_matches_reference_values() {
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn split_is_by_prompt_text_so_copies_stay_together() {
    let data = "{\"prompt\":\"What is 2+2?\",\"strong_correct\":true,\"weak_correct\":false}\n\
                {\"prompt\":\"What is 2+2?\",\"strong_correct\":true,\"weak_correct\":true,\"contaminated\":false}\n";
    let records = parse(data).expect("valid");
    assert_eq!(records.len(), 2);
    let train = records
        .iter()
        .filter(|r| Split::Train.holds(&r.prompt))
        .count();
    assert!(train == 0 || train == 2, "copies split apart");
    for r in &records {
        assert_ne!(Split::Train.holds(&r.prompt), Split::Test.holds(&r.prompt));
        assert!(Split::All.holds(&r.prompt));
    }
    // Roughly half of many distinct prompts land in each split.
    let train = (0..2_000)
        .filter(|i| is_train(&format!("question number {i}?")))
        .count();
    assert!((900..=1_100).contains(&train), "{train}");
}

#[test]
fn parse_drops_contaminated_rows_and_names_bad_lines() {
    let data = "{\"prompt\":\"a\",\"strong_correct\":true,\"weak_correct\":false,\"contaminated\":true}\n\n\
                {\"prompt\":\"b\",\"strong_correct\":false,\"weak_correct\":false,\"contaminated\":false}\n";
    let r = parse(data).expect("valid");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].prompt, "b");
    let bad = parse("{\"prompt\":\"a\",\"strong_correct\":1,\"weak_correct\":true}");
    assert!(matches!(
        bad,
        Err(RoutingError::Field {
            line: 1,
            field: "strong_correct"
        })
    ));
    assert!(matches!(
        parse("{"),
        Err(RoutingError::Json { line: 1, .. })
    ));
}

#[test]
fn evaluate_reports_every_router() {
    let data: String = (0..40)
        .map(|i| {
            let long = "Explain why the contract was breached. ".repeat(i % 5 + 1);
            format!(
                "{{\"prompt\":\"{long} case {i}\",\"strong_correct\":true,\"weak_correct\":{}}}\n",
                i % 3 == 0
            )
        })
        .collect();
    let records = parse(&data).expect("valid");
    let report = evaluate(&records, Split::All).expect("report");
    assert_eq!(report.rows, 40);
    let names: Vec<_> = report.routers.iter().map(|r| r.router).collect();
    assert_eq!(names, ["complexity", "length", "random"]);
    assert!(report.table("x").contains("CPT(50%)"));
}

#[test]
fn the_score_is_what_explain_shows() {
    let config =
        crate::config::from_toml_str(include_str!("../../../config/airlock.toml"), &|_| {
            Some("sk-test".into())
        })
        .expect("shipped config is valid")
        .config;
    let scanner = crate::classify::sensitivity::Scanner::without_names();
    let state = |_| crate::route::BackendState::Up;
    for prompt in [
        "Which of the following is NOT a prime number?\nA. 2\nB. 3\nC. 4\nD. 5\nAnswer:",
        "A landlord leased a house to a tenant for five years. The tenant then assigned the lease.",
        "hello",
    ] {
        let body =
            serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": prompt}]});
        let req = ChatRequest::parse(&serde_json::to_vec(&body).expect("json")).expect("valid");
        let a = crate::pipeline::assess_chat(
            &config,
            &scanner,
            &req,
            &crate::pipeline::Caller::default(),
            &state,
        );
        let shown = crate::pipeline::explain_json(&config, &a)["complexity"]["score"]
            .as_f64()
            .expect("score");
        let ours = complexity_score(prompt);
        assert!(
            (shown - ours).abs() <= 0.0005,
            "{prompt}: {shown} vs {ours}"
        );
        let v = complexity_values(prompt).expect("values");
        assert_eq!(
            complexity::score(&v, &complexity::WEIGHTS),
            ours,
            "tuning scores what serving scores"
        );
    }
}
