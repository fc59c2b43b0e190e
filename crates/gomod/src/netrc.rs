//! The `.netrc` file as the go command reads it (`cmd/go/internal/auth`)
//! for the credentials of `GOPROXY=direct` and private proxies. Only the
//! parsing; finding and reading the file (`$NETRC`, else `~/.netrc`) is the
//! caller's.
//!
//! # The rule
//!
//! The file is read line by line, each line split into whitespace-separated
//! fields taken in pairs (keyword, value); a field left over at the end of a
//! line has no value and is ignored, unless it is `default`.
//!
//! * `machine <name>` starts a new entry, forgetting any login and password
//!   not yet part of a complete entry.
//! * `login <name>` and `password <secret>` set those of the current entry.
//! * As soon as the current entry has a machine, a login and a password, it
//!   is complete: it is added to the result and a new, empty one begins. (A
//!   login or password before any `machine` is forgotten by it.)
//! * `macdef <name>` starts a macro: the rest of the line is still read, but
//!   the following lines up to the next empty line are skipped.
//! * A `default` field as the last (unpaired) field of a line ends the
//!   reading: nothing after it counts, and `default` itself gives no entry.
//! * Any other keyword is ignored with its value.

/// One complete entry of a netrc file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The host name, as written after `machine`.
    pub machine: String,
    /// The login.
    pub login: String,
    /// The password.
    pub password: String,
}

/// The complete entries of the netrc file `data`, in file order, by the
/// [rule](self) of this module. Every entry has a non-empty machine, login
/// and password. The go command uses the first entry whose machine is the
/// host.
pub fn parse(data: &str) -> Vec<Entry> {
    let mut out = vec![];
    let (mut machine, mut login, mut password) = (String::new(), String::new(), String::new());
    let mut in_macro = false;
    for line in data.split('\n') {
        if in_macro {
            if line.is_empty() {
                in_macro = false;
            }
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let mut i = 0;
        while i + 1 < f.len() {
            match f[i] {
                "machine" => {
                    machine = f[i + 1].to_owned();
                    login.clear();
                    password.clear();
                }
                "login" => login = f[i + 1].to_owned(),
                "password" => password = f[i + 1].to_owned(),
                "macdef" => in_macro = true,
                _ => {}
            }
            if !machine.is_empty() && !login.is_empty() && !password.is_empty() {
                out.push(Entry {
                    machine: std::mem::take(&mut machine),
                    login: std::mem::take(&mut login),
                    password: std::mem::take(&mut password),
                });
            }
            i += 2;
        }
        if f.get(i) == Some(&"default") {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[(&str, &str, &str)]) -> Vec<Entry> {
        list.iter()
            .map(|(m, l, p)| Entry {
                machine: m.to_string(),
                login: l.to_string(),
                password: p.to_string(),
            })
            .collect()
    }

    /// The case of cmd/go/internal/auth's TestParseNetrc.
    #[test]
    fn go_test_case() {
        let data = "
machine incomplete
password none

machine api.github.com
  login user
  password pwd

machine incomlete.host
  login justlogin

machine test.host
login user2
password pwd2

machine oneline login user3 password pwd3

machine ignore.host macdef ignore
  login nobody
  password nothing

machine hasmacro.too macdef ignore-next-lines login user4 password pwd4
  login nobody
  password nothing

default
login anonymous
password gopher@golang.org

machine after.default
login oops
password too-late-in-file
";
        assert_eq!(
            parse(data),
            entries(&[
                ("api.github.com", "user", "pwd"),
                ("test.host", "user2", "pwd2"),
                ("oneline", "user3", "pwd3"),
                ("hasmacro.too", "user4", "pwd4"),
            ])
        );
    }

    #[test]
    fn pairs_and_leftovers() {
        // A login and password before the machine are forgotten by it.
        assert_eq!(parse("login u password p machine m\n"), vec![]);
        assert_eq!(parse("login u machine m password p\n"), vec![]);
        // A keyword without a value is ignored; `default` paired with a
        // value does not stop the reading.
        assert_eq!(
            parse("machine a login\nlogin u password p\ndefault x\nmachine b login v password q"),
            entries(&[("a", "u", "p"), ("b", "v", "q")])
        );
        assert_eq!(parse(""), vec![]);
        // Tabs and CRLF are whitespace.
        assert_eq!(
            parse("machine\th\r\nlogin\tu\r\npassword\tp\r\n"),
            entries(&[("h", "u", "p")])
        );
    }
}
