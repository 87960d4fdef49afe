//! `relay serve --config FILE` and `relay config check FILE`: a TOML file whose keys are the
//! long options of `relay serve` (`listen = "0.0.0.0:7720"`, `max-payload = 1048576`,
//! `open-signup = true`). The file's settings become command-line options before the real
//! parse, so that every value is checked by the same parser as on the command line, and only
//! for options given neither as a flag nor through their environment variable: flags and
//! environment override the file. The client commands read the same file for the server's
//! address and queue token ([`ServerSide`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// Variables read beside an option's own (the original Scirocco server's names): set, they
/// override the file's key as the option's own variable does.
const ALSO_READ: &[(&str, &str)] = &[
    ("listen", "SCIROCCO_PORT"),
    ("queue-token", "SCIROCCO_MASTER_TOKEN"),
];

/// `argv` with the settings of `relay serve --config FILE` added, if it names one.
pub(crate) fn apply(cli: Command, argv: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    // A command line that does not parse is left for the real parse to report.
    let Ok(matches) = cli.clone().try_get_matches_from(&argv) else {
        return Ok(argv);
    };
    let Some(("serve", given)) = matches.subcommand() else {
        return Ok(argv);
    };
    let Some(path) = given.get_one::<PathBuf>("config") else {
        return Ok(argv);
    };
    let serve = serve_command(&cli);
    let mut argv = argv;
    for (arg, options) in settings(&serve, path)? {
        if !overridden(arg, given) {
            argv.extend(options);
        }
    }
    Ok(argv)
}

/// What a client command takes from the server's configuration file.
#[derive(Debug, Default)]
pub(crate) struct ServerSide {
    /// `http://LISTEN` (`https` with `tls-cert`); an unspecified address as loopback.
    pub url: Option<String>,
    pub queue_token: Option<String>,
    pub data: Option<PathBuf>,
}

impl ServerSide {
    pub(crate) fn read(path: &Path) -> anyhow::Result<ServerSide> {
        let table = load(path)?;
        let text = |key: &str| -> anyhow::Result<Option<String>> {
            match table.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(v) => bail!("{}: `{key}` = {v}: expected a string", path.display()),
            }
        };
        let url = match text("listen")? {
            None => None,
            Some(listen) => {
                let addr: std::net::SocketAddr = listen.parse().map_err(|e| {
                    anyhow::anyhow!("{}: `listen` = {listen:?}: {e}", path.display())
                })?;
                let host = match addr.ip() {
                    ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
                    ip if ip.is_unspecified() => "[::1]".to_owned(),
                    std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                    ip => ip.to_string(),
                };
                let scheme = if table.contains_key("tls-cert") {
                    "https"
                } else {
                    "http"
                };
                Some(format!("{scheme}://{host}:{}", addr.port()))
            }
        };
        Ok(ServerSide {
            url,
            queue_token: text("queue-token")?,
            data: text("data")?.map(PathBuf::from),
        })
    }
}

fn load(path: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    text.parse()
        .map_err(|e: toml::de::Error| anyhow::anyhow!("{} is not valid TOML: {e}", path.display()))
}

/// `relay config check FILE`: every key known and every value valid, without starting.
pub(crate) fn check(cli: &Command, path: &Path) -> anyhow::Result<usize> {
    let serve = serve_command(cli);
    let settings = settings(&serve, path)?;
    let mut argv = vec![OsString::from("serve")];
    argv.extend(settings.iter().flat_map(|(_, o)| o.iter().cloned()));
    // Together, as a start would take them: one option needing another shows here.
    serve
        .clone()
        .try_get_matches_from(&argv)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), clap_message(&e)))?;
    Ok(settings.len())
}

fn serve_command(cli: &Command) -> Command {
    let mut cli = cli.clone();
    cli.build();
    cli.find_subcommand("serve")
        .expect("relay has a serve command")
        .clone()
}

fn overridden(arg: &Arg, given: &ArgMatches) -> bool {
    let id = arg.get_id().as_str();
    let by_flag_or_env = matches!(
        given.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    );
    let long = arg.get_long().unwrap_or_default();
    by_flag_or_env
        || ALSO_READ
            .iter()
            .any(|(key, var)| *key == long && std::env::var_os(var).is_some())
}

/// The file's settings as `relay serve` options, each checked on its own.
fn settings<'a>(serve: &'a Command, path: &Path) -> anyhow::Result<Vec<(&'a Arg, Vec<OsString>)>> {
    let table = load(path)?;
    let keys: Vec<&Arg> = serve
        .get_arguments()
        .filter(|a| {
            a.get_long()
                .is_some_and(|l| !matches!(l, "config" | "help"))
        })
        .collect();
    let mut out = Vec::new();
    for (key, value) in &table {
        let Some(arg) = keys.iter().find(|a| a.get_long() == Some(key.as_str())) else {
            let known: Vec<&str> = keys.iter().filter_map(|a| a.get_long()).collect();
            bail!(
                "{}: unknown key `{key}`; the keys are the long options of `relay serve`: {}",
                path.display(),
                known.join(", ")
            );
        };
        let options = options(arg, key, value)
            .map_err(|why| anyhow::anyhow!("{}: `{key}` = {value}: {why}", path.display()))?;
        // Alone, so that a bad value is reported with its key (a missing companion option,
        // such as tls-key for tls-cert, is left for the whole parse).
        let mut alone = vec![OsString::from("serve")];
        alone.extend(options.iter().cloned());
        if let Err(e) = serve.clone().try_get_matches_from(&alone) {
            if e.kind() != clap::error::ErrorKind::MissingRequiredArgument {
                bail!(
                    "{}: `{key}` = {value}: {}",
                    path.display(),
                    clap_message(&e)
                );
            }
        }
        out.push((*arg, options));
    }
    Ok(out)
}

/// The command-line options one key stands for.
fn options(arg: &Arg, key: &str, value: &toml::Value) -> Result<Vec<OsString>, String> {
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return match value {
            toml::Value::Boolean(true) => Ok(vec![format!("--{key}").into()]),
            toml::Value::Boolean(false) => Ok(Vec::new()),
            _ => Err("expected true or false".into()),
        };
    }
    if let toml::Value::Array(items) = value {
        if !matches!(arg.get_action(), ArgAction::Append) {
            return Err("expected a single string, number or boolean".into());
        }
        return items
            .iter()
            .map(|item| scalar(item).map(|text| format!("--{key}={text}").into()))
            .collect();
    }
    Ok(vec![format!("--{key}={}", scalar(value)?).into()])
}

fn scalar(value: &toml::Value) -> Result<String, String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        _ => return Err("expected a string, number or boolean".into()),
    })
}

/// clap's message without its `error: ` prefix and the usage lines after it, on one line.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
        .map(str::trim)
        .collect();
    let joined = message.join(" ");
    joined.strip_prefix("error: ").unwrap_or(&joined).to_owned()
}
