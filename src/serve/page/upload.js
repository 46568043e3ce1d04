/* placeholder: replaced in the next step */
(function (root, make) {
  'use strict';
  if (typeof module === 'object' && module.exports) module.exports = make();
  else root.ferryUpload = make();
})(this, function () {
  'use strict';
  return {};
});
