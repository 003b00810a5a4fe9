//! Reading a bank's CSV export: which column is which (by header names banks use, or by what the
//! cells hold when there is no header), which date format the file uses, and every row checked.
//!
//! A file is read whole before anything is stored: one bad row refuses the file with every bad
//! row named, so a person never has half a statement imported and has to guess which half.

use chrono::NaiveDate;

use crate::model::{CsvLayout, NewTransaction, RowError};

/// More rows than any one account's export holds in years; beyond it, split the file.
pub const MAX_ROWS: usize = 100_000;
/// Bad rows listed in one answer: enough to see the pattern.
const MAX_ERRORS: usize = 50;

/// Column choices a person makes when the detection guessed wrong: header names (or 1-based
/// column numbers in a file without a header).
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct Mapping {
    pub date_column: Option<String>,
    pub description_column: Option<String>,
    pub amount_column: Option<String>,
    pub debit_column: Option<String>,
    pub credit_column: Option<String>,
    /// `YYYY-MM-DD`, `MM/DD/YYYY`, `DD/MM/YYYY`, `MM/DD/YY` or `DD.MM.YYYY`.
    pub date_format: Option<String>,
}

/// Why a file as a whole cannot be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FileError {
    #[error("the file is not text (CSV): it is not UTF-8")]
    NotText,
    #[error("the file holds no rows")]
    Empty,
    #[error("the file has {0} rows; import at most {MAX_ROWS} at a time (split it by date)")]
    TooManyRows(usize),
    #[error("{0}")]
    Columns(String),
    #[error("{0}")]
    Malformed(String),
}

const DATE_FORMATS: &[(&str, &str)] = &[
    ("YYYY-MM-DD", "%Y-%m-%d"),
    ("MM/DD/YYYY", "%m/%d/%Y"),
    ("DD/MM/YYYY", "%d/%m/%Y"),
    ("MM/DD/YY", "%m/%d/%y"),
    ("DD.MM.YYYY", "%d.%m.%Y"),
    ("YYYY/MM/DD", "%Y/%m/%d"),
];

const DATE_NAMES: &[&str] = &[
    "date",
    "transaction date",
    "posting date",
    "posted date",
    "trans. date",
    "booking date",
];
const DESCRIPTION_NAMES: &[&str] = &[
    "description",
    "payee",
    "merchant",
    "name",
    "details",
    "memo",
    "narrative",
];
const AMOUNT_NAMES: &[&str] = &["amount", "amount (usd)", "transaction amount", "value"];
const DEBIT_NAMES: &[&str] = &[
    "debit",
    "withdrawal",
    "withdrawals",
    "money out",
    "paid out",
];
const CREDIT_NAMES: &[&str] = &["credit", "deposit", "deposits", "money in", "paid in"];
const MCC_NAMES: &[&str] = &["mcc", "merchant category code", "category code"];

/// Each data row read, in file order, and how the columns were read.
pub struct Read {
    pub layout: CsvLayout,
    pub rows: Vec<NewTransaction>,
    pub errors: Vec<RowError>,
}

pub fn read(bytes: &[u8], mapping: &Mapping) -> Result<Read, FileError> {
    let text = std::str::from_utf8(bytes).map_err(|_| FileError::NotText)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\0') {
        return Err(FileError::NotText);
    }
    let records: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
        .records()
        .filter(|r| r.as_ref().map_or(true, |r| r.iter().any(|c| !c.is_empty())))
        .collect::<Result<_, _>>()
        .map_err(|e| FileError::Malformed(format!("the CSV cannot be read: {e}")))?;
    let Some(first) = records.first() else {
        return Err(FileError::Empty);
    };
    let has_header = !first.iter().any(any_date);
    let (names, data, first_line) = if has_header {
        let names: Vec<String> = first.iter().map(str::to_string).collect();
        (names, &records[1..], 2)
    } else {
        let names = (1..=first.len()).map(|i| i.to_string()).collect();
        (names, &records[..], 1)
    };
    if data.is_empty() {
        return Err(FileError::Empty);
    }
    if data.len() > MAX_ROWS {
        return Err(FileError::TooManyRows(data.len()));
    }
    let columns = Columns::find(&names, data, has_header, mapping)?;
    let format = date_format(data, columns.date, mapping)?;
    let mut rows = Vec::with_capacity(data.len());
    let mut errors = Vec::new();
    for (i, record) in data.iter().enumerate() {
        match columns.row(record, format.1) {
            Ok(row) => rows.push(row),
            Err((column, message)) if errors.len() < MAX_ERRORS => errors.push(RowError {
                line: first_line + i,
                column: names[column].clone(),
                message,
            }),
            Err(_) => {}
        }
    }
    let name = |i: Option<usize>| i.map(|i| names[i].clone());
    Ok(Read {
        layout: CsvLayout {
            has_header,
            date: names[columns.date].clone(),
            description: names[columns.description].clone(),
            amount: name(columns.amount),
            debit: name(columns.debit_credit.map(|(d, _)| d)),
            credit: name(columns.debit_credit.map(|(_, c)| c)),
            mcc: name(columns.mcc),
            date_format: format.0.to_string(),
        },
        rows,
        errors,
    })
}

struct Columns {
    date: usize,
    description: usize,
    amount: Option<usize>,
    debit_credit: Option<(usize, usize)>,
    mcc: Option<usize>,
}

impl Columns {
    fn find(
        names: &[String],
        data: &[csv::StringRecord],
        has_header: bool,
        mapping: &Mapping,
    ) -> Result<Self, FileError> {
        let chosen = |choice: &Option<String>, key: &str| -> Result<Option<usize>, FileError> {
            let Some(choice) = choice else {
                return Ok(None);
            };
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(choice.trim()))
                .map(Some)
                .ok_or_else(|| {
                    FileError::Columns(format!(
                        "{key} `{choice}` is not a column of the file; its columns are: {}",
                        names.join(", ")
                    ))
                })
        };
        let named = |wanted: &[&str]| {
            has_header
                .then(|| {
                    names
                        .iter()
                        .position(|n| wanted.contains(&n.to_lowercase().as_str()))
                })
                .flatten()
        };
        let sample = &data[..data.len().min(20)];
        let share = |column: usize, test: &dyn Fn(&str) -> bool| {
            let cells: Vec<&str> = sample
                .iter()
                .filter_map(|r| r.get(column))
                .filter(|c| !c.is_empty())
                .collect();
            if cells.is_empty() {
                0.0
            } else {
                cells.iter().filter(|c| test(c)).count() as f64 / cells.len() as f64
            }
        };
        let width = names.len();
        let date = chosen(&mapping.date_column, "dateColumn")?
            .or_else(|| named(DATE_NAMES))
            .or_else(|| (0..width).find(|&c| share(c, &any_date) > 0.9))
            .ok_or_else(|| {
                FileError::Columns("no column holds dates; name it with `dateColumn`".into())
            })?;
        let debit = chosen(&mapping.debit_column, "debitColumn")?.or_else(|| named(DEBIT_NAMES));
        let credit =
            chosen(&mapping.credit_column, "creditColumn")?.or_else(|| named(CREDIT_NAMES));
        let amount = chosen(&mapping.amount_column, "amountColumn")?
            .or_else(|| named(AMOUNT_NAMES))
            .or_else(|| {
                (debit.is_none() && credit.is_none())
                    .then(|| {
                        (0..width)
                            .rev()
                            .find(|&c| c != date && share(c, &|s| money(s).is_some()) > 0.9)
                    })
                    .flatten()
            });
        let debit_credit = match (amount, debit, credit) {
            (Some(_), _, _) => None,
            (None, Some(d), Some(c)) => Some((d, c)),
            _ => {
                return Err(FileError::Columns(
                    "no amount column found: name it with `amountColumn`, or the two columns with `debitColumn` and `creditColumn`".into(),
                ))
            }
        };
        let taken = |c: usize| {
            c == date || Some(c) == amount || debit_credit.is_some_and(|(d, k)| c == d || c == k)
        };
        let description = chosen(&mapping.description_column, "descriptionColumn")?
            .or_else(|| named(DESCRIPTION_NAMES))
            .or_else(|| {
                // The text column with the most letters: descriptions are the wordiest cells.
                (0..width).filter(|&c| !taken(c)).max_by_key(|&c| {
                    sample
                        .iter()
                        .filter_map(|r| r.get(c))
                        .map(|s| s.chars().filter(|ch| ch.is_alphabetic()).count())
                        .sum::<usize>()
                })
            })
            .ok_or_else(|| {
                FileError::Columns(
                    "no description column found; name it with `descriptionColumn`".into(),
                )
            })?;
        Ok(Self {
            date,
            description,
            amount,
            debit_credit,
            mcc: named(MCC_NAMES),
        })
    }

    fn row(
        &self,
        record: &csv::StringRecord,
        format: &str,
    ) -> Result<NewTransaction, (usize, String)> {
        let cell = |c: usize| record.get(c).unwrap_or("");
        let date = NaiveDate::parse_from_str(cell(self.date), format).map_err(|_| {
            (
                self.date,
                format!("`{}` is not a date like the file's others", cell(self.date)),
            )
        })?;
        let description = cell(self.description);
        if description.is_empty() {
            return Err((self.description, "the description is empty".into()));
        }
        if description.chars().count() > 200 {
            return Err((
                self.description,
                "the description is longer than 200 characters".into(),
            ));
        }
        let amount = match (self.amount, self.debit_credit) {
            (Some(c), _) => {
                money(cell(c)).ok_or_else(|| (c, format!("`{}` is not an amount", cell(c))))?
            }
            (None, Some((d, c))) => {
                let side = |col: usize| -> Result<f64, (usize, String)> {
                    if cell(col).is_empty() {
                        Ok(0.0)
                    } else {
                        money(cell(col))
                            .map(f64::abs)
                            .ok_or_else(|| (col, format!("`{}` is not an amount", cell(col))))
                    }
                };
                side(c)? - side(d)?
            }
            (None, None) => unreachable!("Columns::find requires an amount"),
        };
        if amount.abs() >= 1e9 {
            return Err((
                self.amount.unwrap_or(self.date),
                "the amount is beyond a billion".into(),
            ));
        }
        let mcc = self
            .mcc
            .and_then(|c| cell(c).parse::<u16>().ok())
            .filter(|m| *m <= 9999);
        Ok(NewTransaction {
            date,
            description: description.to_string(),
            amount,
            mcc,
        })
    }
}

fn any_date(cell: &str) -> bool {
    DATE_FORMATS
        .iter()
        .any(|(_, f)| NaiveDate::parse_from_str(cell, f).is_ok())
}

/// The first format that reads every date of the file: `MM/DD` before `DD/MM`, as US banks
/// write, unless a day past the 12th says otherwise.
fn date_format(
    data: &[csv::StringRecord],
    column: usize,
    mapping: &Mapping,
) -> Result<(&'static str, &'static str), FileError> {
    if let Some(wanted) = &mapping.date_format {
        return DATE_FORMATS
            .iter()
            .find(|(name, _)| name == wanted)
            .copied()
            .ok_or_else(|| {
                let known: Vec<&str> = DATE_FORMATS.iter().map(|(n, _)| *n).collect();
                FileError::Columns(format!(
                    "dateFormat `{wanted}` is not one of {}",
                    known.join(", ")
                ))
            });
    }
    let cells: Vec<&str> = data
        .iter()
        .filter_map(|r| r.get(column))
        .filter(|c| !c.is_empty())
        .collect();
    let reads = |format: &str| {
        cells
            .iter()
            .filter(|c| NaiveDate::parse_from_str(c, format).is_ok())
            .count()
    };
    // `max_by_key` keeps the last of equals; reversed, that is the first format listed.
    DATE_FORMATS
        .iter()
        .rev()
        .max_by_key(|(_, format)| reads(format))
        .filter(|(_, format)| reads(format) > 0)
        .copied()
        .ok_or_else(|| {
            FileError::Columns(
                "no column holds dates in a known format; name the format with `dateFormat`".into(),
            )
        })
}

/// `-1,234.56`, `(12.00)`, `$5`, `12.00-` → dollars.
fn money(cell: &str) -> Option<f64> {
    let mut text: String = cell
        .chars()
        .filter(|c| !matches!(c, '$' | '€' | '£' | ',' | ' '))
        .collect();
    let mut negative = false;
    if text.starts_with('(') && text.ends_with(')') {
        negative = true;
        text = text[1..text.len() - 1].to_string();
    }
    if let Some(stripped) = text.strip_suffix('-') {
        negative = true;
        text = stripped.to_string();
    }
    let value: f64 = text.parse().ok().filter(|v: &f64| v.is_finite())?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str) -> Result<Read, FileError> {
        read(text.as_bytes(), &Mapping::default())
    }

    #[test]
    fn a_chase_style_export_is_read_by_its_header() {
        let file = "Transaction Date,Post Date,Description,Category,Type,Amount,Memo\n\
                    11/03/2026,11/04/2026,KROGER #1234,Groceries,Sale,-54.21,\n\
                    11/05/2026,11/05/2026,PAYROLL ACME,,Payment,\"2,500.00\",\n";
        let read = read_str(file).unwrap();
        assert_eq!(read.layout.date, "Transaction Date");
        assert_eq!(read.layout.amount.as_deref(), Some("Amount"));
        assert_eq!(read.rows[0].amount, -54.21);
        assert_eq!(read.rows[1].amount, 2500.0);
        assert_eq!(
            read.rows[0].date,
            NaiveDate::from_ymd_opt(2026, 11, 3).unwrap()
        );
    }

    #[test]
    fn debit_and_credit_columns_make_one_signed_amount() {
        let file = "Date,Details,Debit,Credit\n2026-11-03,Rent,1500.00,\n2026-11-04,Salary,,3000\n";
        let rows = read_str(file).unwrap().rows;
        assert_eq!(rows[0].amount, -1500.0);
        assert_eq!(rows[1].amount, 3000.0);
    }

    #[test]
    fn a_file_without_a_header_is_read_by_what_its_cells_hold() {
        let file = "03/11/2026,\"SQ *BLUE BOTTLE COFFEE\",(4.50)\n25/11/2026,WHOLE FOODS,-80.10\n";
        let read = read_str(file).unwrap();
        assert!(!read.layout.has_header);
        assert_eq!(
            read.layout.date_format, "DD/MM/YYYY",
            "a 25th day rules out MM/DD"
        );
        assert_eq!(read.rows[0].amount, -4.5);
        assert_eq!(read.rows[0].description, "SQ *BLUE BOTTLE COFFEE");
    }

    #[test]
    fn every_bad_row_is_named_by_line_and_column() {
        let file = "Date,Description,Amount\n2026-11-03,KROGER,-5\n2026-13-45,KROGER,-5\n2026-11-04,,-5\n2026-11-05,X,abc\n";
        let errors = read_str(file).unwrap().errors;
        let at: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(at, vec![(3, "Date"), (4, "Description"), (5, "Amount")]);
    }

    #[test]
    fn binary_junk_is_not_text() {
        assert_eq!(
            read(&[0xff, 0xfe, 0x00, 0x12], &Mapping::default()).err(),
            Some(FileError::NotText)
        );
        assert_eq!(read_str("a,b\0c\n").err(), Some(FileError::NotText));
    }

    #[test]
    fn a_mapping_naming_no_column_says_which_columns_there_are() {
        let mapping = Mapping {
            amount_column: Some("Sum".into()),
            ..Mapping::default()
        };
        let Err(FileError::Columns(message)) =
            read(b"Date,Description,Amount\n2026-11-03,A,-1\n", &mapping)
        else {
            panic!("expected a column error");
        };
        assert!(message.contains("Date, Description, Amount"), "{message}");
    }
}
