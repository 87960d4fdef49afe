//! Days since the Unix epoch as proleptic Gregorian dates, for any `i64` (chrono stops at year
//! 262143, short of what JavaScript dates reach).

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01: Howard Hinnant's
/// days-to-civil, on 400-year eras of 146097 days starting on March 1st.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shifting to March 1st, year 0 overflows an i64 within 719468 days of its end; the era
    // number itself is small (at most 2^63 / 146097), so only the shift is widened.
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097) as i64;
    let doe = z.rem_euclid(146_097) as i64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;
    use proptest::prelude::*;

    #[test]
    fn dates_either_side_of_the_epoch_and_at_javascripts_ends() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(100_000_000), (275_760, 9, 13));
        assert_eq!(civil_from_days(-100_000_000), (-271_821, 4, 20));
    }

    #[test]
    fn the_ends_of_i64() {
        for days in [i64::MIN, i64::MIN + 1, i64::MAX - 719_468, i64::MAX] {
            let (_, month, day) = civil_from_days(days);
            assert!(
                (1..=12).contains(&month) && (1..=31).contains(&day),
                "{days}"
            );
        }
    }

    proptest! {
        /// Any day count gives a valid date without overflowing.
        #[test]
        fn any_day_count_is_a_date(days in any::<i64>()) {
            let (_, month, day) = civil_from_days(days);
            prop_assert!((1..=12).contains(&month) && (1..=31).contains(&day));
        }

        /// Where chrono reaches, the same date as chrono.
        #[test]
        fn matches_chrono(days in -95_000_000i64..95_000_000) {
            use chrono::Datelike;
            let d = chrono::NaiveDate::from_num_days_from_ce_opt((days + 719_163) as i32).unwrap();
            prop_assert_eq!(civil_from_days(days), (i64::from(d.year()), d.month(), d.day()));
        }
    }
}
