//! A calendar date: the rules only need parsing, ordering and whole years, so no
//! date crate is pulled in.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A valid proleptic Gregorian date. Field order makes the derived `Ord` chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Builds a date only if it exists on the calendar.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Parses exactly `YYYY-MM-DD`; anything else (other separators, day-first) is `None`.
    pub fn parse_iso(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let year = num(0..4)?;
        let month = num(5..7)?;
        let day = num(8..10)?;
        Date::new(year as i32, month as u8, day as u8)
    }

    /// Whole years from `self` to `on` (negative if `on` is earlier).
    pub fn years_until(self, on: Date) -> i32 {
        let mut years = on.year - self.year;
        if (on.month, on.day) < (self.month, self.day) {
            years -= 1;
        }
        years
    }

    /// The date `days` after 1970-01-01 (Howard Hinnant's civil_from_days).
    pub fn from_unix_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Today's date in UTC, read once per run at the edge.
pub fn today_utc() -> Date {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Date::from_unix_days((secs / 86_400) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_parse_only_when_they_exist_on_the_calendar() {
        let cases = [
            ("1990-02-28", true),
            ("1992-02-29", true),
            ("2000-02-29", true),
            ("1900-02-29", false),
            ("1990-02-30", false),
            ("1990-04-31", false),
            ("1990-13-01", false),
            ("1990-00-10", false),
            ("1990-01-00", false),
            ("31/12/1990", false),
            ("1990/12/31", false),
            ("1990-1-01", false),
            ("19900101", false),
            ("", false),
            ("1990-12-31 ", false),
            ("+990-12-31", false),
        ];
        for (input, ok) in cases {
            assert_eq!(Date::parse_iso(input).is_some(), ok, "{input}");
        }
    }

    #[test]
    fn whole_years_count_the_birthday_itself_as_complete() {
        let born = Date::new(2000, 6, 15).unwrap();
        assert_eq!(born.years_until(Date::new(2018, 6, 14).unwrap()), 17);
        assert_eq!(born.years_until(Date::new(2018, 6, 15).unwrap()), 18);
        assert!(born.years_until(Date::new(1999, 1, 1).unwrap()) < 0);
    }

    #[test]
    fn unix_days_convert_to_the_right_calendar_dates() {
        assert_eq!(Date::from_unix_days(0), Date::new(1970, 1, 1).unwrap());
        assert_eq!(
            Date::from_unix_days(11_016),
            Date::new(2000, 2, 29).unwrap()
        );
        assert_eq!(
            Date::from_unix_days(20_418),
            Date::new(2025, 11, 26).unwrap()
        );
        assert_eq!(Date::from_unix_days(-1), Date::new(1969, 12, 31).unwrap());
    }
}
