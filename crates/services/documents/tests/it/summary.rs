//! Summaries of a document too long for the model to read at once: read in parts, each cited,
//! merged; and only the owner's indexed documents can be summarised.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api::Miyagi;

/// About 1,600 tokens of plain prose in eight sections: more than one part at the summary's
/// budget of 900.
fn long_guide() -> String {
    let sections = [
        ("Emergency fund", "An emergency fund holds three to six months of spending in cash. It pays for a lost job or a broken boiler without selling investments at a bad time. Keep it in a savings account that pays interest and that you can reach within a day."),
        ("Debt first", "Debt that charges more than investments are likely to return should be paid down before investing. A credit card charging twenty percent a year costs more than the stock market has paid on average. Pay the most expensive debt first and keep paying the minimum on the rest."),
        ("Fees", "An expense ratio is the yearly fee a fund charges as a share of what you hold. A fee of one percent compounds against you for decades and can take a quarter of the final sum over thirty years. Index funds that follow a whole market usually charge the least."),
        ("Diversification", "Owning many companies across many industries means that one failure cannot sink the whole portfolio. A single stock can fall to nothing; a broad index fund has never done so. Spreading money across countries adds another layer of safety."),
        ("Stocks and bonds", "Stocks grow more over long periods but fall further in bad years. Bonds grow less and fall less. The younger you are, the more of your savings can sit in stocks, because you have time to wait for a recovery."),
        ("Rebalancing", "Over time the investments that did well take up more of the portfolio than you meant them to. Once or twice a year, sell some of what grew and buy what lagged to return to the mix you chose. This keeps the risk you take the risk you decided on."),
        ("Taxes", "Accounts with tax advantages let savings grow without tax each year. Fill the employer plan up to the match first, because the match is an immediate return. Then consider an individual retirement account before a taxable one."),
        ("Staying the course", "Markets fall sharply every few years and recover in time. People who sell in a fall often miss the recovery that follows. A written plan made in calm times helps you hold on when prices drop."),
    ];
    let mut text = String::from("# A plain guide to saving and investing\n\n");
    for (title, body) in sections {
        text.push_str(&format!("## {title}\n\n{body} {body} {body}\n\n"));
    }
    text
}

#[tokio::test]
async fn a_document_longer_than_the_models_context_is_summarised_in_parts_citing_its_own_sentences()
{
    let app = Miyagi::start().await;
    let guide = long_guide();
    let document = app
        .upload_and_settle(
            "alice",
            "guide.md",
            "text/markdown",
            guide.clone().into_bytes(),
        )
        .await;
    assert_eq!(document["status"], "indexed", "{document}");
    let id = document["id"].as_str().unwrap();
    let path = format!("/api/v1/documents/{id}/summary");

    let (status, summary) = app
        .call("alice", Method::POST, &path, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    eprintln!("the summary: {summary:#}");
    assert!(summary["parts"].as_u64().unwrap() >= 2, "{summary}");
    assert!(
        summary["summary"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count()
            >= 15,
        "{summary}"
    );
    let citations = summary["citations"].as_array().unwrap();
    assert!(!citations.is_empty(), "{summary}");
    for citation in citations {
        assert_eq!(citation["documentId"], json!(id));
        let snippet = citation["snippet"].as_str().unwrap();
        assert!(
            guide.contains(snippet),
            "{snippet:?} is not in the document"
        );
    }

    let (status, _) = app.call("bob", Method::POST, &path, Some(json!({}))).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another person's document is not there for bob"
    );
    let (status, problem) = app
        .call("alice", Method::POST, &path, Some(json!({"focus": "  "})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "focus");
}
