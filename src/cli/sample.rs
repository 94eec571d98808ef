//! `sample`: synthetic customer files for rehearsals and benchmarks. Deterministic by
//! seed (its own SplitMix64, so output never changes with a dependency upgrade).

use crate::exit::Exit;
use anyhow::Context;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  p100-onboard sample --rows 1000 -o rehearsal.csv
  p100-onboard sample --rows 1000000 --invalid-share 0.05 --seed 7 -o big.csv")]
pub struct Args {
    /// Number of data rows.
    #[arg(long)]
    pub rows: u64,
    /// Share of rows (0.0–1.0) made invalid, each with one kind of mistake.
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub invalid_share: f64,
    /// Seed: the same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

const HEADER: &str = "externalUserId,email,phone,firstName,lastName,street,number,city,postCode,country,citizenship,nationality,birthCountry,birthDate,hasAcceptedP100Tc,userIdentificationNumber\n";

const FIRST: [&str; 16] = [
    "Anna", "Łukasz", "Zofia", "Jürgen", "Éloïse", "José", "Giulia", "Björn", "Siobhán", "Tomáš",
    "Inês", "Oliver", "Amelia", "Mikkel", "Núria", "Ferenc",
];
const LAST: [&str; 16] = [
    "Nowak",
    "Wiśniewski",
    "Müller",
    "Dupont",
    "García",
    "Rossi",
    "Andersson",
    "O'Connor",
    "Dvořák",
    "Silva",
    "Smith",
    "Jørgensen",
    "Kovács",
    "Lefèvre",
    "Schröder",
    "Puig",
];
/// (country, city, street, post code, calling code). No country forbidden in the sandbox.
const PLACES: [(&str, &str, &str, &str, &str); 12] = [
    ("PL", "Warszawa", "ul. Marszałkowska", "00-001", "48"),
    ("DE", "Berlin", "Schönhauser Allee", "10435", "49"),
    ("GB", "London", "Baker Street", "NW1 6XE", "44"),
    ("FR", "Paris", "Rue de Rivoli", "75001", "33"),
    ("ES", "Madrid", "Calle de Alcalá", "28014", "34"),
    ("IT", "Roma", "Via del Corso", "00186", "39"),
    ("NL", "Amsterdam", "Prinsengracht", "1016 GV", "31"),
    ("SE", "Stockholm", "Drottninggatan", "111 36", "46"),
    ("CZ", "Praha", "Národní", "110 00", "420"),
    ("AT", "Wien", "Mariahilfer Straße", "1060", "43"),
    ("IE", "Dublin", "Grafton Street", "D02 VF65", "353"),
    ("PT", "Lisboa", "Rua Augusta", "1100-053", "351"),
];

/// SplitMix64: tiny, fast, and its sequence is fixed forever.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A uniform float in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    if !(0.0..=1.0).contains(&args.invalid_share) {
        anyhow::bail!(
            "--invalid-share {}: expected a number from 0.0 to 1.0",
            args.invalid_share
        );
    }
    match &args.output {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            write_sample(&args, BufWriter::with_capacity(1 << 20, file))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            write_sample(&args, BufWriter::with_capacity(1 << 20, stdout.lock()))
                .context("writing stdout")?;
        }
    }
    Ok(Exit::Ok)
}

/// Writes the header and `args.rows` rows. Ids, emails and phones embed the row number,
/// so they are unique without any bookkeeping.
pub fn write_sample(args: &Args, mut out: impl Write) -> std::io::Result<()> {
    let mut rng = Rng(args.seed);
    out.write_all(HEADER.as_bytes())?;
    for i in 1..=args.rows {
        let first = FIRST[rng.below(16) as usize];
        let last = LAST[rng.below(16) as usize];
        let place = PLACES[rng.below(12) as usize];
        let (mut country, city, street, post, dial) = place;
        let mut email_at = "@example.com";
        let mut phone_digits = 9;
        let mut birth = (1940 + rng.below(66), 1 + rng.below(12), 1 + rng.below(28));
        let mut birth_sep = '-';
        let mut terms = "true";
        if rng.unit() < args.invalid_share {
            match rng.below(6) {
                0 => email_at = "@@example",
                1 => phone_digits = 3,
                2 => country = "UK",
                3 => birth_sep = '/',
                4 => birth.0 = 2020,
                _ => terms = "false",
            }
        }
        let number = 1 + rng.below(250);
        let street_cell = if i % 5 == 0 {
            format!("\"{street}, Apt {}\"", i % 97 + 1)
        } else {
            street.to_string()
        };
        let uin = if i % 3 == 0 {
            format!("ID{i:09}")
        } else {
            String::new()
        };
        let date = if birth_sep == '/' {
            format!("{:02}/{:02}/{}", birth.2, birth.1, birth.0)
        } else {
            format!("{}-{:02}-{:02}", birth.0, birth.1, birth.2)
        };
        let phone = format!(
            "{dial}{:0width$}",
            i % 10u64.pow(phone_digits),
            width = phone_digits as usize
        );
        writeln!(
            out,
            "u-{seed}-{i},user{i}{email_at},{phone},{first},{last},{street_cell},{number},{city},{post},{country},{country},{country},{country},{date},{terms},{uin}",
            seed = args.seed,
        )?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rows: u64, share: f64, seed: u64) -> String {
        let args = Args {
            rows,
            invalid_share: share,
            seed,
            output: None,
        };
        let mut buf = Vec::new();
        write_sample(&args, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_file_and_another_seed_does_not() {
        assert_eq!(sample(50, 0.2, 7), sample(50, 0.2, 7));
        assert_ne!(sample(50, 0.2, 7), sample(50, 0.2, 8));
    }

    #[test]
    fn a_file_has_a_header_and_one_line_per_row() {
        assert_eq!(sample(25, 0.0, 1).lines().count(), 26);
    }
}
