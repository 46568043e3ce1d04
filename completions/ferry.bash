# bash completion for ferry: the subcommands, each one's options, and files
# or folders where an option or argument takes one. Installed by make install
# into share/bash-completion/completions/ferry.

_ferry()
{
    local cur prev cmd opts
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    if [ "$COMP_CWORD" -le 1 ]; then
        COMPREPLY=($(compgen -W "serve get put hello chat udp passwd help --help --version" -- "$cur"))
        return 0
    fi
    cmd=${COMP_WORDS[1]}
    case $cmd in
    serve) opts="-p --port -b --bind --threads -q --quiet --log-format --hidden --no-mac-files --no-raw --raw-gap --upload --max-upload --upload-max-age --upload-max-unfinished --upload-max-unfinished-bytes --upload-part --digest --digest-rate --no-digest-scan --dav-depth-infinity --auth --allow-plain-auth --max-conns --idle --head-timeout --send-timeout --send-mode --proxy-from --proxy-wait --tls-cert --tls-key --tls-self-signed --tls-only -h --help -V --version" ;;
    get) opts="-o --output -O --dir -J --remote-name -r --recursive -f --force -c --continue -i --include -q --quiet -v --verbose -k --insecure --cacert --pin --max-redirs --timeout --retry --charset --sha256 --digest --sync -u --user --netrc --allow-plain-auth --no-pipeline -h --help" ;;
    put) opts="-c --continue --retry -q --quiet -v --verbose -i --include -k --insecure --cacert --pin --timeout -u --user --netrc --allow-plain-auth -h --help" ;;
    hello) opts="-p --port -b --bind --threads --max-clients --idle --max-msg --charset --proxy-from --proxy-wait -q --quiet -h --help" ;;
    chat) opts="-l --listen -p --port -b --bind --operator --max-clients --history --rate --queue --redis -q --quiet --proxy-from --proxy-wait --name --charset -h --help" ;;
    udp) opts="-l --listen -p --port -b --bind --echo --wait --charset --recv-max -h --help" ;;
    passwd) opts="-h --help" ;;
    help)
        COMPREPLY=($(compgen -W "serve get put hello chat udp passwd" -- "$cur"))
        return 0
        ;;
    *) return 0 ;;
    esac
    case $prev in
    -O | --dir)
        COMPREPLY=($(compgen -d -- "$cur"))
        return 0
        ;;
    -o | --output | --cacert | --auth | --tls-cert | --tls-key)
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
        ;;
    --log-format)
        COMPREPLY=($(compgen -W "combined common json" -- "$cur"))
        return 0
        ;;
    --send-mode)
        COMPREPLY=($(compgen -W "auto sendfile splice readwrite" -- "$cur"))
        return 0
        ;;
    --charset)
        COMPREPLY=($(compgen -W "utf-8 gbk" -- "$cur"))
        return 0
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [ "$cmd" = serve ]; then
        COMPREPLY=($(compgen -d -- "$cur"))
    elif [ "$cmd" = put ]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
}
complete -F _ferry ferry
