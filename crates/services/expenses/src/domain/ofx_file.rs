//! Reading an OFX or QFX statement (what banks' "Quicken / Money" downloads hold): version 1 is
//! SGML, whose leaf tags are not closed (`<TRNAMT>-54.21`), version 2 is XML (`<TRNAMT>-54.21
//! </TRNAMT>`). Both are read the same way: each `<STMTTRN>` block's leaf values, up to the next
//! tag. No crate on crates.io reads both versions and is kept up; this is the part we need.
//!
//! As with CSV, a file is read whole: one bad transaction refuses it, each named.

use chrono::NaiveDate;

use super::csv_file::{FileError, MAX_ROWS};
use crate::model::{NewTransaction, RowError};

/// Every transaction of the statement, or why the file cannot be read.
pub fn read(bytes: &[u8]) -> Result<(Vec<NewTransaction>, Vec<RowError>), FileError> {
    // OFX 1 files declare their charset in a header and are often Windows-1252; the tags and
    // numbers are ASCII either way, and a payee's odd byte is better replaced than refused.
    let text = String::from_utf8_lossy(bytes);
    if !text.contains("<OFX>") && !text.contains("<ofx>") {
        return Err(FileError::Malformed(
            "the file is not an OFX statement: it has no <OFX> element".into(),
        ));
    }
    let upper = text.to_uppercase();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut at = 0;
    let mut index = 0;
    while let Some(start) = upper[at..].find("<STMTTRN>") {
        let start = at + start;
        let end = upper[start..]
            .find("</STMTTRN>")
            .map_or(upper.len(), |e| start + e);
        let block = &text[start..end];
        index += 1;
        match transaction(block) {
            Ok(row) => rows.push(row),
            Err((field, message)) => errors.push(RowError {
                line: index,
                column: field.into(),
                message,
            }),
        }
        if rows.len() + errors.len() > MAX_ROWS {
            return Err(FileError::TooManyRows(rows.len() + errors.len()));
        }
        at = end;
    }
    if index == 0 {
        return Err(FileError::Empty);
    }
    Ok((rows, errors))
}

/// The value of a leaf `<TAG>` in a block: the text up to the next `<`.
fn value<'a>(block: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = block.to_uppercase().find(&open)? + open.len();
    let rest = &block[start..];
    Some(rest[..rest.find('<').unwrap_or(rest.len())].trim()).filter(|v| !v.is_empty())
}

fn transaction(block: &str) -> Result<NewTransaction, (&'static str, String)> {
    let posted = value(block, "DTPOSTED").ok_or((
        "DTPOSTED",
        "the transaction has no posting date".to_string(),
    ))?;
    // `20261103`, `20261103120000`, `20261103120000.000[-5:EST]`: the day is the first 8 digits.
    let date = posted
        .get(..8)
        .and_then(|day| NaiveDate::parse_from_str(day, "%Y%m%d").ok())
        .ok_or(("DTPOSTED", format!("`{posted}` is not a date (YYYYMMDD…)")))?;
    let amount_text =
        value(block, "TRNAMT").ok_or(("TRNAMT", "the transaction has no amount".to_string()))?;
    let amount: f64 = amount_text
        .replace(',', ".")
        .parse()
        .ok()
        .filter(|a: &f64| a.is_finite() && a.abs() < 1e9)
        .ok_or(("TRNAMT", format!("`{amount_text}` is not an amount")))?;
    let name = value(block, "NAME")
        .or_else(|| value(block, "PAYEE"))
        .or_else(|| value(block, "MEMO"));
    let description: String = name
        .ok_or(("NAME", "the transaction names no payee".to_string()))?
        .chars()
        .take(200)
        .collect();
    // OFX carries a Standard Industrial Classification code, not an ISO 18245 one; only the
    // merchant category code some banks add as `<MCC>` is one.
    let mcc = value(block, "MCC")
        .and_then(|m| m.parse::<u16>().ok())
        .filter(|m| *m <= 9999);
    Ok(NewTransaction {
        date,
        description: sgml_unescape(&description),
        amount,
        mcc,
    })
}

fn sgml_unescape(text: &str) -> String {
    text.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFX1: &str = "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST>\n\
        <STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261103120000.000[-5:EST]<TRNAMT>-54.21<FITID>1<NAME>KROGER #1234<MEMO>CINCINNATI OH</STMTTRN>\n\
        <STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261105<TRNAMT>2500.00<FITID>2<NAME>PAYROLL ACME</STMTTRN>\n\
        </BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>";

    #[test]
    fn an_sgml_statement_gives_each_transaction() {
        let (rows, errors) = read(OFX1.as_bytes()).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[0].date.to_string(),
                rows[0].amount,
                rows[0].description.as_str()
            ),
            ("2026-11-03".into(), -54.21, "KROGER #1234")
        );
        assert_eq!(rows[1].amount, 2500.0);
    }

    #[test]
    fn an_xml_statement_reads_the_same() {
        let xml = "<?xml version=\"1.0\"?><?OFX OFXHEADER=\"200\" VERSION=\"220\"?><OFX><STMTTRN><TRNTYPE>DEBIT</TRNTYPE>\
            <DTPOSTED>20261103</DTPOSTED><TRNAMT>-4.50</TRNAMT><NAME>BLUE BOTTLE &amp; CO</NAME><MCC>5814</MCC></STMTTRN></OFX>";
        let (rows, _) = read(xml.as_bytes()).unwrap();
        assert_eq!(
            (rows[0].description.as_str(), rows[0].mcc),
            ("BLUE BOTTLE & CO", Some(5814))
        );
    }

    #[test]
    fn a_transaction_without_an_amount_is_named() {
        let bad = "<OFX><STMTTRN><DTPOSTED>20261103<NAME>X</STMTTRN></OFX>";
        let (_, errors) = read(bad.as_bytes()).unwrap();
        assert_eq!((errors[0].line, errors[0].column.as_str()), (1, "TRNAMT"));
    }

    #[test]
    fn a_file_that_is_not_ofx_says_so() {
        assert!(matches!(
            read(b"Date,Amount\n"),
            Err(FileError::Malformed(_))
        ));
    }
}
