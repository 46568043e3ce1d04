# fish completion for ferry: the subcommands and each one's options.
# Installed by make install into share/fish/vendor_completions.d/ferry.fish.

set -l ferry_cmds serve get put hello chat udp passwd help
complete -c ferry -f
complete -c ferry -n "not __fish_seen_subcommand_from $ferry_cmds" -l help -d 'the commands'
complete -c ferry -n "not __fish_seen_subcommand_from $ferry_cmds" -l version -d 'the version'
complete -c ferry -n "not __fish_seen_subcommand_from $ferry_cmds" -a serve -d 'serve a folder over HTTP and the raw file protocol'
complete -c ferry -n "not __fish_seen_subcommand_from $ferry_cmds" -a get -d 'download URLs (http, https, raw)'
complete -c ferry -n "not __fish_seen_subcommand_from $ferry_cmds" -a put -d 'upload a file with HTTP PUT'
complete -c ferry -n "not __fish_seen_subcommand_from $ferry_cmds" -a hello -d 'the greeting server'
complete -c ferry -n "not __fish_seen_subcommand_from $ferry_cmds" -a chat -d 'a chat broker (-l) or client'
complete -c ferry -n "not __fish_seen_subcommand_from $ferry_cmds" -a udp -d 'a UDP peer'
complete -c ferry -n "not __fish_seen_subcommand_from $ferry_cmds" -a passwd -d 'print a line for serve --auth'
complete -c ferry -n "not __fish_seen_subcommand_from $ferry_cmds" -a help -d 'show the options of a command'
complete -c ferry -n '__fish_seen_subcommand_from help' -a 'serve get put hello chat udp passwd'
complete -c ferry -n '__fish_seen_subcommand_from serve' -s p -l port -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -s b -l bind -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l threads -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -s q -l quiet
complete -c ferry -n '__fish_seen_subcommand_from serve' -l log-format -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l hidden
complete -c ferry -n '__fish_seen_subcommand_from serve' -l no-mac-files
complete -c ferry -n '__fish_seen_subcommand_from serve' -l no-raw
complete -c ferry -n '__fish_seen_subcommand_from serve' -l raw-gap -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l upload
complete -c ferry -n '__fish_seen_subcommand_from serve' -l max-upload -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l upload-max-age -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l upload-max-unfinished -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l upload-max-unfinished-bytes -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l upload-part -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l digest
complete -c ferry -n '__fish_seen_subcommand_from serve' -l digest-rate -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l no-digest-scan
complete -c ferry -n '__fish_seen_subcommand_from serve' -l dav-depth-infinity -r -a 'on off'
complete -c ferry -n '__fish_seen_subcommand_from serve' -l auth -r -F
complete -c ferry -n '__fish_seen_subcommand_from serve' -l allow-plain-auth
complete -c ferry -n '__fish_seen_subcommand_from serve' -l max-conns -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l idle -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l head-timeout -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l send-timeout -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l send-mode -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l proxy-from -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l proxy-wait -r
complete -c ferry -n '__fish_seen_subcommand_from serve' -l tls-cert -r -F
complete -c ferry -n '__fish_seen_subcommand_from serve' -l tls-key -r -F
complete -c ferry -n '__fish_seen_subcommand_from serve' -l tls-self-signed
complete -c ferry -n '__fish_seen_subcommand_from serve' -l tls-only
complete -c ferry -n '__fish_seen_subcommand_from serve' -s h -l help
complete -c ferry -n '__fish_seen_subcommand_from serve' -s V -l version
complete -c ferry -n '__fish_seen_subcommand_from get' -s o -l output -r -F
complete -c ferry -n '__fish_seen_subcommand_from get' -s O -l dir -r -F
complete -c ferry -n '__fish_seen_subcommand_from get' -s J -l remote-name
complete -c ferry -n '__fish_seen_subcommand_from get' -s r -l recursive
complete -c ferry -n '__fish_seen_subcommand_from get' -s f -l force
complete -c ferry -n '__fish_seen_subcommand_from get' -s c -l continue
complete -c ferry -n '__fish_seen_subcommand_from get' -s i -l include
complete -c ferry -n '__fish_seen_subcommand_from get' -s q -l quiet
complete -c ferry -n '__fish_seen_subcommand_from get' -s v -l verbose
complete -c ferry -n '__fish_seen_subcommand_from get' -s k -l insecure
complete -c ferry -n '__fish_seen_subcommand_from get' -l cacert -r -F
complete -c ferry -n '__fish_seen_subcommand_from get' -l pin -r
complete -c ferry -n '__fish_seen_subcommand_from get' -l max-redirs -r
complete -c ferry -n '__fish_seen_subcommand_from get' -l timeout -r
complete -c ferry -n '__fish_seen_subcommand_from get' -l retry -r
complete -c ferry -n '__fish_seen_subcommand_from get' -l charset -r
complete -c ferry -n '__fish_seen_subcommand_from get' -l sha256 -r
complete -c ferry -n '__fish_seen_subcommand_from get' -l digest -r
complete -c ferry -n '__fish_seen_subcommand_from get' -l sync
complete -c ferry -n '__fish_seen_subcommand_from get' -s u -l user -r
complete -c ferry -n '__fish_seen_subcommand_from get' -l netrc
complete -c ferry -n '__fish_seen_subcommand_from get' -l allow-plain-auth
complete -c ferry -n '__fish_seen_subcommand_from get' -l no-pipeline
complete -c ferry -n '__fish_seen_subcommand_from get' -s h -l help
complete -c ferry -n '__fish_seen_subcommand_from put' -s c -l continue
complete -c ferry -n '__fish_seen_subcommand_from put' -l retry -r
complete -c ferry -n '__fish_seen_subcommand_from put' -s q -l quiet
complete -c ferry -n '__fish_seen_subcommand_from put' -s v -l verbose
complete -c ferry -n '__fish_seen_subcommand_from put' -s i -l include
complete -c ferry -n '__fish_seen_subcommand_from put' -s k -l insecure
complete -c ferry -n '__fish_seen_subcommand_from put' -l cacert -r -F
complete -c ferry -n '__fish_seen_subcommand_from put' -l pin -r
complete -c ferry -n '__fish_seen_subcommand_from put' -l timeout -r
complete -c ferry -n '__fish_seen_subcommand_from put' -s u -l user -r
complete -c ferry -n '__fish_seen_subcommand_from put' -l netrc
complete -c ferry -n '__fish_seen_subcommand_from put' -l allow-plain-auth
complete -c ferry -n '__fish_seen_subcommand_from put' -s h -l help
complete -c ferry -n '__fish_seen_subcommand_from hello' -s p -l port -r
complete -c ferry -n '__fish_seen_subcommand_from hello' -s b -l bind -r
complete -c ferry -n '__fish_seen_subcommand_from hello' -l threads -r
complete -c ferry -n '__fish_seen_subcommand_from hello' -l max-clients -r
complete -c ferry -n '__fish_seen_subcommand_from hello' -l idle -r
complete -c ferry -n '__fish_seen_subcommand_from hello' -l max-msg -r
complete -c ferry -n '__fish_seen_subcommand_from hello' -l charset -r
complete -c ferry -n '__fish_seen_subcommand_from hello' -l proxy-from -r
complete -c ferry -n '__fish_seen_subcommand_from hello' -l proxy-wait -r
complete -c ferry -n '__fish_seen_subcommand_from hello' -s q -l quiet
complete -c ferry -n '__fish_seen_subcommand_from hello' -s h -l help
complete -c ferry -n '__fish_seen_subcommand_from chat' -s l -l listen
complete -c ferry -n '__fish_seen_subcommand_from chat' -s p -l port -r
complete -c ferry -n '__fish_seen_subcommand_from chat' -s b -l bind -r
complete -c ferry -n '__fish_seen_subcommand_from chat' -l operator
complete -c ferry -n '__fish_seen_subcommand_from chat' -l max-clients -r
complete -c ferry -n '__fish_seen_subcommand_from chat' -l history -r
complete -c ferry -n '__fish_seen_subcommand_from chat' -l rate -r
complete -c ferry -n '__fish_seen_subcommand_from chat' -l queue -r
complete -c ferry -n '__fish_seen_subcommand_from chat' -l redis -r
complete -c ferry -n '__fish_seen_subcommand_from chat' -s q -l quiet
complete -c ferry -n '__fish_seen_subcommand_from chat' -l proxy-from -r
complete -c ferry -n '__fish_seen_subcommand_from chat' -l proxy-wait -r
complete -c ferry -n '__fish_seen_subcommand_from chat' -l name -r
complete -c ferry -n '__fish_seen_subcommand_from chat' -l charset -r
complete -c ferry -n '__fish_seen_subcommand_from chat' -s h -l help
complete -c ferry -n '__fish_seen_subcommand_from udp' -s l -l listen
complete -c ferry -n '__fish_seen_subcommand_from udp' -s p -l port -r
complete -c ferry -n '__fish_seen_subcommand_from udp' -s b -l bind -r
complete -c ferry -n '__fish_seen_subcommand_from udp' -l echo
complete -c ferry -n '__fish_seen_subcommand_from udp' -l wait -r
complete -c ferry -n '__fish_seen_subcommand_from udp' -l charset -r
complete -c ferry -n '__fish_seen_subcommand_from udp' -l recv-max -r
complete -c ferry -n '__fish_seen_subcommand_from udp' -s h -l help
complete -c ferry -n '__fish_seen_subcommand_from passwd' -s h -l help
complete -c ferry -n '__fish_seen_subcommand_from serve put' -F
