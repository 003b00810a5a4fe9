//! Importing: files read and checked whole, every row stored once, owners kept apart.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{add, call, get, import_csv, import_file};

const STATEMENT: &str = "Date,Description,Amount\n\
    2026-11-02,POS PURCHASE KROGER #1234 CINCINNATI OH,-54.21\n\
    2026-11-03,SQ *BLUE BOTTLE COFFEE,-4.50\n\
    2026-11-03,SQ *BLUE BOTTLE COFFEE,-4.50\n\
    2026-11-05,PAYROLL DEPOSIT ACME CORP,2500.00\n";

#[tokio::test]
async fn a_statement_is_filed_row_by_row_with_the_reason_for_each() {
    let (status, report) = import_csv("alice", "", STATEMENT).await;
    assert_eq!(
        (
            status,
            report["status"].as_str(),
            report["imported"].as_u64()
        ),
        (StatusCode::ACCEPTED, Some("completed"), Some(4)),
        "{report}"
    );
    let rows = get("alice", "/api/v1/expenses/transactions").await;
    let kroger = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["payee"] == "KROGER CINCINNATI")
        .expect("the Kroger row");
    assert_eq!(kroger["category"], "FOOD_AND_DRINK_GROCERIES");
    assert_eq!(kroger["filed"]["by"], "merchant");
    assert_eq!(
        kroger["filed"]["because"],
        "known merchant KROGER (Groceries)"
    );
    assert_eq!(kroger["amount"], -54.21);
}

#[tokio::test]
async fn importing_the_same_file_again_stores_nothing_twice_but_keeps_two_identical_coffees() {
    let (_, first) = import_csv("bob", "", STATEMENT).await;
    let (status, second) = import_csv("bob", "", STATEMENT).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        (
            first["imported"].as_u64(),
            second["imported"].as_u64(),
            second["duplicates"].as_u64()
        ),
        (Some(4), Some(0), Some(4))
    );
    let rows = get("bob", "/api/v1/expenses/transactions").await;
    let coffees = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["payee"] == "BLUE BOTTLE COFFEE")
        .count();
    assert_eq!(coffees, 2);
}

#[tokio::test]
async fn an_import_says_what_each_stage_filed_to_its_owner_only() {
    let (_, job) = import_csv("rosa", "", STATEMENT).await;
    let path = format!("/api/v1/expenses/imports/{}", job["id"].as_str().unwrap());
    let mine = get("rosa", &path).await;
    assert_eq!(
        (
            mine["rows"].as_u64(),
            mine["filedBy"]["merchant"].as_u64(),
            mine["finishedAt"].is_string()
        ),
        (Some(4), Some(2), true),
        "{mine}"
    );
    let (status, _) = call("gina", Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_file_with_bad_rows_is_refused_whole_naming_each_bad_row() {
    let file = "Date,Description,Amount\n2026-11-02,KROGER,-5\n2026-11-31,KROGER,-5\n2026-11-04,WALMART,twelve\n";
    let (status, problem) = import_csv("carol", "", file).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["line 3: Date", "line 4: Amount"]);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was imported"),
        "{problem}"
    );
    assert_eq!(
        get("carol", "/api/v1/expenses/transactions").await,
        json!([])
    );
}

#[tokio::test]
async fn binary_junk_and_oversized_files_get_a_clear_refusal() {
    let (status, problem) =
        import_csv("carol", "", vec![0x89u8, b'P', b'N', b'G', 0, 0, 0xff]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem["errors"][0]["message"],
        "the file is not text (CSV): it is not UTF-8"
    );
    // A 50 MB file is refused from its Content-Length, before its body is read: sent by hand,
    // because a client writing the body would see the connection close under it.
    let answer = announce_upload("carol", 50 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("the file is larger than 20 MiB"),
        "{answer}"
    );
}

/// Sends only the head of an upload of `bytes`, and reads what the server answers.
async fn announce_upload(user: &str, bytes: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = crate::app().base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("the app listens");
    let head = format!(
        "POST /api/v1/expenses/imports HTTP/1.1\r\nhost: {address}\r\nx-api-key: {}\r\ncontent-type: text/csv\r\ncontent-length: {bytes}\r\n\r\n",
        miyagi_testing::api_key(user)
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("the head is sent");
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("an answer before the body")
        .expect("the answer is read");
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

#[tokio::test]
async fn a_preview_shows_how_the_columns_were_read_without_importing() {
    let file = "Posting Date,Details,Debit,Credit\n11/25/2026,RENT OAKWOOD,1500.00,\n11/26/2026,REFUND,,20.00\n";
    let request = crate::app()
        .request("dave", Method::POST, "/api/v1/expenses/imports/preview")
        .header("content-type", "text/csv")
        .body(file);
    let (status, preview) = crate::app().send(request).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["layout"]["debit"], "Debit");
    assert_eq!(preview["layout"]["dateFormat"], "MM/DD/YYYY");
    assert_eq!(preview["first"][0]["amount"], -1500.0);
    assert_eq!(
        get("dave", "/api/v1/expenses/transactions").await,
        json!([])
    );
}

#[tokio::test]
async fn another_persons_transactions_cannot_be_read_or_changed() {
    add(
        "erin",
        json!([{ "date": "2026-11-02", "description": "WHOLE FOODS MKT 10", "amount": -80.0 }]),
    )
    .await;
    let mine = get("erin", "/api/v1/expenses/transactions").await;
    let id = mine[0]["id"].as_str().unwrap();
    let (status, _) = call(
        "frank",
        Method::PATCH,
        &format!("/api/v1/expenses/transactions/{id}"),
        Some(json!({ "category": "TRAVEL_FLIGHTS" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        get("frank", "/api/v1/expenses/transactions").await,
        json!([])
    );
    assert_eq!(
        get("erin", "/api/v1/expenses/transactions").await[0]["category"],
        "FOOD_AND_DRINK_GROCERIES"
    );
}

#[tokio::test]
async fn a_json_batch_with_a_bad_field_names_it() {
    let (status, problem) = call(
        "frank",
        Method::POST,
        "/api/v1/expenses/transactions",
        Some(json!({ "transactions": [{ "date": "2026-11-02", "description": "", "amount": -1.0 }] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem["errors"][0]["field"], "transactions[0].description",
        "{problem}"
    );
}

#[tokio::test]
async fn an_ofx_statement_is_imported_like_a_csv_one() {
    let ofx = "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST>\n\
        <STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261103120000<TRNAMT>-54.21<FITID>1<NAME>KROGER #1234</STMTTRN>\n\
        <STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261105<TRNAMT>2500.00<FITID>2<NAME>PAYROLL ACME</STMTTRN>\n\
        </BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>";
    let (_, report) = import_file(
        crate::app(),
        "omar",
        "?account=savings",
        "application/x-ofx",
        ofx,
    )
    .await;
    assert_eq!(
        (report["source"].as_str(), report["imported"].as_u64()),
        (Some("ofx"), Some(2)),
        "{report}"
    );
    let rows = get("omar", "/api/v1/expenses/transactions?month=2026-11").await;
    let payroll = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["payee"] == "PAYROLL ACME")
        .expect("the payroll row");
    assert_eq!(
        (payroll["category"].as_str(), payroll["account"].as_str()),
        (Some("INCOME_WAGES"), Some("savings"))
    );
}
