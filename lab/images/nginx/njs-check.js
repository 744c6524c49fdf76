// Used only by the image's build-time `nginx -t` (njs-check.conf).
function upstream(r) {
    return "blue";
}
export default { upstream };
